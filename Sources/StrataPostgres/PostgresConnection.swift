import CLibPQ
import Foundation
import StrataMessageCore

/// One libpq connection: parameterised statements (`$1…`), text results
/// (bytea decoded from its hex form), errors as `MessageStoreError` with the
/// server's SQLSTATE. Not thread-safe: `PostgresPool` hands each connection
/// to one caller at a time.
final class PostgresConnection: @unchecked Sendable {  // used by one pool borrower at a time
    private var conn: OpaquePointer?

    init(_ conninfo: String) throws {
        conn = PQconnectdb(conninfo)
        guard let c = conn, PQstatus(c) == CONNECTION_OK else {
            let message = conn.map { String(cString: PQerrorMessage($0)) } ?? "out of memory"
            PQfinish(conn)
            conn = nil
            throw MessageStoreError(.invalidArgument, "cannot connect to PostgreSQL (\(Self.redacted(conninfo))): \(message.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
    }

    deinit { PQfinish(conn) }

    /// The connection string without a password.
    static func redacted(_ conninfo: String) -> String {
        conninfo.replacingOccurrences(of: #":[^:@/]*@"#, with: ":***@", options: .regularExpression)
    }

    var isHealthy: Bool { conn.map { PQstatus($0) == CONNECTION_OK } ?? false }

    /// A parameter.
    enum Value {
        case int(Int64)
        case text(String)
        case bytes([UInt8])
        case null
    }

    /// A statement's result rows (text format).
    struct Rows {
        var values: [[String?]]
        var count: Int { values.count }
        func int(_ r: Int, _ c: Int) -> Int64 { Int64(values[r][c] ?? "0") ?? 0 }
        func text(_ r: Int, _ c: Int) -> String { values[r][c] ?? "" }
        func isNull(_ r: Int, _ c: Int) -> Bool { values[r][c] == nil }
        /// A bytea column (`\x` hex text).
        func bytes(_ r: Int, _ c: Int) throws -> [UInt8] {
            guard let s = values[r][c] else { return [] }
            var out: [UInt8] = []
            out.reserveCapacity(s.utf8.count / 2)
            var it = s.utf8.dropFirst(2).makeIterator()
            func nibble(_ x: UInt8) throws -> UInt8 {
                switch x {
                case 48...57: return x - 48
                case 97...102: return x - 87
                case 65...70: return x - 55
                default: throw MessageStoreError(.corruption, "bytea column is not hex")
                }
            }
            guard s.hasPrefix("\\x") else { throw MessageStoreError(.corruption, "bytea column without \\x prefix") }
            while let h = it.next() {
                guard let l = it.next() else { throw MessageStoreError(.corruption, "odd-length bytea hex") }
                out.append(try nibble(h) << 4 | nibble(l))
            }
            return out
        }
    }

    /// Runs `sql` with `params`; returns its rows (empty for commands).
    @discardableResult
    func query(_ sql: String, _ params: [Value] = []) throws -> Rows {
        var buffers: [UnsafeMutablePointer<CChar>?] = []
        var lengths: [Int32] = []
        var formats: [Int32] = []
        defer { for b in buffers { free(b) } }
        for p in params {
            switch p {
            case .int(let v):
                buffers.append(strdup(String(v)))
                lengths.append(0)
                formats.append(0)
            case .text(let t):
                buffers.append(strdup(t))
                lengths.append(0)
                formats.append(0)
            case .bytes(let b):
                let m = malloc(max(1, b.count))!.assumingMemoryBound(to: CChar.self)
                b.withUnsafeBytes { if $0.count > 0 { memcpy(m, $0.baseAddress!, $0.count) } }
                buffers.append(m)
                lengths.append(Int32(b.count))
                formats.append(1)
            case .null:
                buffers.append(nil)
                lengths.append(0)
                formats.append(0)
            }
        }
        let result: OpaquePointer? = buffers.withUnsafeBufferPointer { bp in
            bp.baseAddress!.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: max(1, bp.count)) { values in
                PQexecParams(conn, sql, Int32(params.count), nil, params.isEmpty ? nil : values, lengths, formats, 0)
            }
        }
        defer { PQclear(result) }
        let status = PQresultStatus(result)
        guard status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK else {
            let state = result.flatMap { PQresultErrorField($0, Int32(UInt8(ascii: "C"))) }.map { String(cString: $0) } ?? ""
            let message = String(cString: PQerrorMessage(conn)).trimmingCharacters(in: .whitespacesAndNewlines)
            if state == "23505" { throw MessageStoreError(.duplicateId, "duplicate key: \(message)") }
            throw MessageStoreError(.invalidArgument, "PostgreSQL error \(state): \(message) (in \(sql.prefix(60))…)")
        }
        var rows: [[String?]] = []
        let n = PQntuples(result), cols = PQnfields(result)
        rows.reserveCapacity(Int(n))
        for r in 0..<n {
            var row: [String?] = []
            row.reserveCapacity(Int(cols))
            for c in 0..<cols {
                row.append(PQgetisnull(result, r, c) == 1 ? nil : String(cString: PQgetvalue(result, r, c)))
            }
            rows.append(row)
        }
        return Rows(values: rows)
    }

    /// Runs `body` in one transaction, rolled back on error.
    func transaction<T>(_ body: () throws -> T) throws -> T {
        try query("BEGIN")
        do {
            let r = try body()
            try query("COMMIT")
            return r
        } catch {
            _ = try? query("ROLLBACK")
            throw error
        }
    }
}

/// A bounded set of connections; `with` lends one to a caller (blocking
/// while all are lent) and replaces a connection that broke.
final class PostgresPool: Sendable {
    private let conninfo: String
    private let free: StoreLock<[PostgresConnection]>
    private let available: DispatchSemaphore

    init(conninfo: String, size: Int) throws {
        self.conninfo = conninfo
        free = StoreLock([try PostgresConnection(conninfo)])
        available = DispatchSemaphore(value: max(1, size))
    }

    func with<T>(_ body: (PostgresConnection) throws -> T) throws -> T {
        available.wait()
        defer { available.signal() }
        let c = try free.withLock { $0.popLast() } ?? PostgresConnection(conninfo)
        defer { if c.isHealthy { free.withLock { $0.append(c) } } }
        return try body(c)
    }

    func close() { free.withLock { $0 = [] } }
}
