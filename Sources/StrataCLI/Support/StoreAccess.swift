import ArgumentParser
import Foundation
import Strata
import StrataMessageStore
import StrataPostgres
import StrataSQLite

/// Where a store command finds its store: `--store URL`, else `--db PATH`
/// (an LSM store directory), else the `STRATA_STORE` environment variable.
///
/// URL forms: `lsm:PATH`, `sqlite:PATH`, `postgresql://user@host:port/db`
/// (or `postgres://`, several hosts `h1:p1,h2:p2`; `?table_prefix=P` picks the
/// tables, default `strata_`), `memory:` (an empty in-memory store, for
/// trying commands). A bare path is an LSM directory, or a SQLite file when
/// it is an existing file or ends in `.sqlite`/`.db`.
struct StoreLocation: ParsableArguments {
    @Option(help: ArgumentHelp("The store: lsm:PATH, sqlite:PATH, postgresql://…, memory: (default: $STRATA_STORE).", valueName: "url"))
    var store: String?

    @Option(help: ArgumentHelp("An LSM store directory (the same as --store lsm:PATH).", valueName: "path"))
    var db: String?

    func validate() throws {
        if store != nil && db != nil { throw ValidationError("give --store or --db, not both") }
        if store == nil && db == nil && ProcessInfo.processInfo.environment["STRATA_STORE"] == nil {
            throw ValidationError("no store given: pass --store URL or --db PATH, or set STRATA_STORE")
        }
    }

    /// The store's URL as given, in its long form.
    func url() throws -> StoreURL {
        if let db { return .lsm(db) }
        let text = store ?? ProcessInfo.processInfo.environment["STRATA_STORE"] ?? ""
        return try StoreURL(parsing: text)
    }

    /// Opens the store. `readOnly` opens an LSM store with
    /// `Database.openReadOnly` (no LOCK: works while a broker holds it);
    /// `create` allows a store that does not exist yet (import).
    func open(readOnly: Bool = false, create: Bool = false) async throws -> any MessageStore {
        let url = try url()
        return try await failing("cannot open \(url)") { try await url.open(readOnly: readOnly, create: create) }
    }
}

/// A parsed store URL: which backend, and where.
enum StoreURL: CustomStringConvertible, Sendable {
    case lsm(String)
    case sqlite(String)
    case postgres(connection: String, tablePrefix: String)
    case memory

    /// Parses the forms `StoreLocation` lists; `.usage` error otherwise.
    init(parsing text: String) throws {
        if text.hasPrefix("lsm:") {
            self = .lsm(String(text.dropFirst(4)))
        } else if text.hasPrefix("sqlite:") {
            self = .sqlite(String(text.dropFirst(7)))
        } else if text.hasPrefix("postgresql://") || text.hasPrefix("postgres://") {
            var connection = text, prefix = "strata_"
            if var parts = URLComponents(string: text), let items = parts.queryItems, let p = items.first(where: { $0.name == "table_prefix" }) {
                prefix = p.value ?? prefix
                let rest = items.filter { $0.name != "table_prefix" }
                parts.queryItems = rest.isEmpty ? nil : rest
                connection = parts.string ?? text
            }
            self = .postgres(connection: connection, tablePrefix: prefix)
        } else if text == "memory:" || text == "memory" {
            self = .memory
        } else if text.hasPrefix("json:") {
            throw CLIError.usage("json: stores are not part of this build (lsm:, sqlite:, postgresql://, memory:)")
        } else if let colon = text.firstIndex(of: ":"), !text[..<colon].contains("/"), text[..<colon].count > 1 {
            throw CLIError.usage("unknown store scheme '\(text[..<colon]):' (lsm:, sqlite:, postgresql://, memory:)")
        } else if text.isEmpty {
            throw CLIError.usage("empty store URL")
        } else {
            var isDirectory: ObjCBool = false
            let exists = FileManager.default.fileExists(atPath: text, isDirectory: &isDirectory)
            self = (exists && !isDirectory.boolValue) || text.hasSuffix(".sqlite") || text.hasSuffix(".db") ? .sqlite(text) : .lsm(text)
        }
    }

    /// The backend's name as `storage stats` prints it.
    var backend: String {
        switch self {
        case .lsm: "lsm"
        case .sqlite: "sqlite"
        case .postgres: "postgresql"
        case .memory: "memory"
        }
    }

    /// Where the data is: a path, the server (without password) or "memory".
    var location: String {
        switch self {
        case .lsm(let p), .sqlite(let p): p
        case .postgres(let c, let prefix):
            (URLComponents(string: c).map { u -> String in
                var u = u
                u.password = nil
                return u.string ?? c
            } ?? c) + " (tables \(prefix)*)"
        case .memory: "memory"
        }
    }

    var description: String {
        switch self {
        case .lsm(let p): "lsm:\(p)"
        case .sqlite(let p): "sqlite:\(p)"
        case .postgres: location
        case .memory: "memory:"
        }
    }

    /// Opens the backend (see `StoreLocation.open`).
    func open(readOnly: Bool, create: Bool) async throws -> any MessageStore {
        switch self {
        case .lsm(let path):
            var isDirectory: ObjCBool = false
            let exists = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
            if !exists && !create { throw CLIError("no message store at \(path)") }
            if exists && !isDirectory.boolValue { throw CLIError("\(path) is a file, not an LSM store directory (use sqlite:\(path))") }
            var o = MessageStoreOptions()
            o.logger.logLevel = .warning
            o.engine.logger.logLevel = .warning
            o.engine.createIfMissing = create
            o.engine.readOnly = readOnly
            return try await LSMMessageStore.open(at: path, options: o)
        case .sqlite(let path):
            if !create && !FileManager.default.fileExists(atPath: path) { throw CLIError("no message store at \(path)") }
            return try SQLiteMessageStore(path: path)
        case .postgres(let connection, let prefix):
            let store = try await PostgresMessageStore(configuration: PostgresConfiguration(connectionString: connection, poolSize: 4, tablePrefix: prefix))
            try await store.initialize()
            return store
        case .memory:
            return InMemoryMessageStore()
        }
    }

    /// Bytes the store takes on disk and in its log (nil where the CLI
    /// cannot tell: a server's tables, memory).
    func diskUsage() -> (total: UInt64, log: UInt64)? {
        let fm = FileManager.default
        func size(_ p: String) -> UInt64 { ((try? fm.attributesOfItem(atPath: p))?[.size] as? NSNumber)?.uint64Value ?? 0 }
        switch self {
        case .lsm(let dir):
            guard let names = try? fm.contentsOfDirectory(atPath: dir) else { return nil }
            var total: UInt64 = 0, log: UInt64 = 0
            for n in names {
                let s = size(dir + "/" + n)
                total += s
                if n.hasSuffix(".log") { log += s }
            }
            return (total, log)
        case .sqlite(let path):
            let wal = size(path + "-wal")
            return (size(path) + wal + size(path + "-shm"), wal)
        case .postgres, .memory:
            return nil
        }
    }
}
