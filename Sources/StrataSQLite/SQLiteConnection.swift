import CSQLite
import Foundation
import StrataMessageCore

/// A thin wrapper of one SQLite connection: prepared statements cached by
/// their SQL, typed binds and columns, errors as `MessageStoreError`. Not
/// thread-safe; the stores use it only from their `SQLiteExecutor`'s queue.
final class SQLiteConnection: @unchecked Sendable {  // used only on one SQLiteExecutor's serial queue
    private var db: OpaquePointer?
    private var statements: [String: OpaquePointer] = [:]
    let path: String

    init(path: String) throws {
        self.path = path
        guard sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nil) == SQLITE_OK else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close(db)
            throw MessageStoreError(.invalidArgument, "cannot open SQLite database \(path): \(message)")
        }
        sqlite3_busy_timeout(db, Int32(SQLiteExecutor.busyTimeoutMilliseconds))  // replaced by the executor's handler
    }

    /// The `sqlite3` handle (for the executor's busy handler).
    var handle: OpaquePointer? { db }

    func close() {
        for s in statements.values { sqlite3_finalize(s) }
        statements = [:]
        sqlite3_close(db)
        db = nil
    }

    deinit { if db != nil { close() } }

    private func error(_ what: String) -> MessageStoreError {
        let code = sqlite3_errcode(db)
        let cause = SQLiteResultError(code: code, extendedCode: sqlite3_extended_errcode(db), message: String(cString: sqlite3_errmsg(db)))
        return MessageStoreError(MessageStoreError.Kind(sqliteCode: code), "\(path): \(what): \(cause.message)", underlying: cause)
    }

    /// Runs SQL without results (several statements allowed).
    func exec(_ sql: String) throws {
        guard sqlite3_exec(db, sql, nil, nil, nil) == SQLITE_OK else { throw error(sql) }
    }

    /// A value to bind.
    enum Value {
        case int(Int64)
        case text(String)
        case blob([UInt8])
        case null
    }

    /// Runs `sql` with `values` bound to `?1…`, calling `row` for each result
    /// row (return false to stop).
    func query(_ sql: String, _ values: [Value] = [], row: (Row) throws -> Bool = { _ in true }) throws {
        let stmt: OpaquePointer
        if let cached = statements[sql] {
            stmt = cached
        } else {
            var s: OpaquePointer?
            guard sqlite3_prepare_v2(db, sql, -1, &s, nil) == SQLITE_OK, let s else { throw error("prepare \(sql)") }
            statements[sql] = s
            stmt = s
        }
        defer {
            sqlite3_reset(stmt)
            sqlite3_clear_bindings(stmt)
        }
        let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
        for (i, v) in values.enumerated() {
            let idx = Int32(i + 1)
            let rc: Int32
            switch v {
            case .int(let x): rc = sqlite3_bind_int64(stmt, idx, x)
            case .text(let t): rc = sqlite3_bind_text(stmt, idx, t, -1, transient)
            case .blob(let b): rc = b.withUnsafeBytes { sqlite3_bind_blob(stmt, idx, $0.baseAddress ?? UnsafeRawPointer(bitPattern: 1), Int32(b.count), transient) }
            case .null: rc = sqlite3_bind_null(stmt, idx)
            }
            guard rc == SQLITE_OK else { throw error("bind \(i + 1) of \(sql)") }
        }
        while true {
            let rc = sqlite3_step(stmt)
            if rc == SQLITE_DONE { return }
            guard rc == SQLITE_ROW else { throw error(sql) }
            if try !row(Row(stmt: stmt)) { return }
        }
    }

    /// One result row.
    struct Row {
        let stmt: OpaquePointer
        func int(_ i: Int32) -> Int64 { sqlite3_column_int64(stmt, i) }
        func isNull(_ i: Int32) -> Bool { sqlite3_column_type(stmt, i) == SQLITE_NULL }
        func text(_ i: Int32) -> String { sqlite3_column_text(stmt, i).map { String(cString: $0) } ?? "" }
        func blob(_ i: Int32) -> [UInt8] {
            let n = Int(sqlite3_column_bytes(stmt, i))
            guard n > 0, let p = sqlite3_column_blob(stmt, i) else { return [] }
            return Array(UnsafeRawBufferPointer(start: p, count: n))
        }
    }

    var changes: Int { Int(sqlite3_changes(db)) }

    /// Runs `body` in one transaction (BEGIN IMMEDIATE … COMMIT), rolled back on error.
    func transaction<T>(_ body: () throws -> T) throws -> T {
        try exec("BEGIN IMMEDIATE")
        do {
            let r = try body()
            try exec("COMMIT")
            return r
        } catch {
            try? exec("ROLLBACK")
            throw error
        }
    }
}
