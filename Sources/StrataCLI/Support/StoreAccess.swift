import ArgumentParser
import Foundation
import Logging
import Strata
import StrataMessageStore
import StrataPostgres

/// Where a store command finds its store, read by `MessageStoreConfiguration`
/// exactly as a broker reads it: `--store URL` (every form the configuration
/// knows: `memory:`, `lsm:PATH`, `sqlite:PATH`, `json:DIR`,
/// `postgresql://user@host:port/db[?table_prefix=P]`), else `--db PATH` (an
/// LSM store directory), else `STRATA_STORE`; `--config FILE` (a YAML or
/// JSON file with a `storage:` section) and the other `STRATA_*` variables
/// add their settings (commit mode, pool size, table prefix, …), the
/// environment over the file, `--store`/`--db` over both.
struct StoreLocation: ParsableArguments {
    @Option(help: ArgumentHelp("The store: lsm:PATH, sqlite:PATH, json:DIR, postgresql://…[?table_prefix=P], memory: (default: $STRATA_STORE).",
                               valueName: "url"))
    var store: String?

    @Option(help: ArgumentHelp("An LSM store directory (the same as --store lsm:PATH).", valueName: "path"), completion: .directory)
    var db: String?

    @Option(name: .customLong("config"),
            help: ArgumentHelp("A YAML or JSON configuration file (its storage: section; STRATA_* variables override it).", valueName: "file"),
            completion: .file(extensions: ["yaml", "yml", "json"]))
    var configFile: String?

    func validate() throws {
        if store != nil && db != nil { throw ValidationError("give --store or --db, not both") }
        if store == nil && db == nil && configFile == nil && (ProcessInfo.processInfo.environment["STRATA_STORE"] ?? "").isEmpty {
            throw ValidationError("no store given: pass --store URL, --db PATH or --config FILE, or set STRATA_STORE")
        }
    }

    /// The store's configuration (a bad URL, file or setting is a usage error).
    func configuration() throws -> MessageStoreConfiguration {
        do {
            return try MessageStoreConfiguration.load(file: configFile, environment: ProcessInfo.processInfo.environment,
                                                      url: store ?? db.map { "lsm:" + $0 })
        } catch let e as MessageStoreConfigurationError {
            throw CLIError.usage(e.description)
        }
    }

    /// Opens the store. `readOnly` opens an LSM store with the engine's
    /// read-only open (no LOCK: works while a broker holds it) and a JSON
    /// store without touching its files (`JSONFileMessageStore.Options.readOnly`); `create`
    /// allows a store that does not exist yet (import). Every other backend
    /// opens through `MessageStoreConfiguration.open()`.
    func open(readOnly: Bool = false, create: Bool = false) async throws -> any MessageStore {
        let c = try configuration()
        return try await failing("cannot open \(c.url)") { try await c.openForTool(readOnly: readOnly, create: create) }
    }
}

extension MessageStoreConfiguration {
    /// Opens the store for a command: as a broker would, except that an LSM
    /// store may be opened read-only, routine logs stay quiet, and a store
    /// on disk that does not exist is an error unless `create`.
    func openForTool(readOnly: Bool, create: Bool) async throws -> any MessageStore {
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        let exists = !path.isEmpty && fm.fileExists(atPath: path, isDirectory: &isDirectory)
        switch backend {
        case .lsm:
            if !exists && !create { throw CLIError("no message store at \(path)") }
            if exists && !isDirectory.boolValue { throw CLIError("\(path) is a file, not an LSM store directory (use sqlite:\(path))") }
            var o = lsmOptions()
            o.logger.logLevel = .warning
            o.engine.logger.logLevel = .warning
            o.engine.createIfMissing = create
            o.engine.readOnly = readOnly
            return try await LSMMessageStore.open(at: path, options: o)
        case .sqlite, .json:
            if !exists && !create { throw CLIError("no message store at \(path)") }
            if exists && (backend == .json) != isDirectory.boolValue {
                throw CLIError("\(path) is a \(isDirectory.boolValue ? "directory" : "file"), not a \(backend.rawValue) store")
            }
            let parent = (path as NSString).deletingLastPathComponent
            if create && !parent.isEmpty { try fm.createDirectory(atPath: parent, withIntermediateDirectories: true) }
            if backend == .json && readOnly {
                // Never finishes or discards a save of the broker writing it.
                var o = jsonOptions()
                o.readOnly = true
                return try JSONFileMessageStore(directory: path, options: o)
            }
            return try await open()
        case .postgres:
            // A tool's own settings: warnings only on stderr (the client's
            // retries are logged at info), and a server that is down fails
            // within 10 s, not a broker's 30.
            var logger = Logger(label: "strata.postgres")
            logger.logLevel = .warning
            try validate()
            let pg = PostgresConfiguration(connectionString: connectionString, poolSize: postgresPoolSize,
                                           tablePrefix: postgresTablePrefix, connectionWait: .seconds(10))
            let store = try await PostgresMessageStore(configuration: pg, logger: logger)
            try await store.initialize()
            return store
        case .memory:
            let store = try await open()
            try await store.initialize()
            return store
        }
    }

    /// The backend's name as `storage stats` prints it.
    var backendName: String { backend == .postgres ? "postgresql" : backend.rawValue }

    /// Where the data is: a path, the server (without password) and tables, or "memory".
    var location: String {
        switch backend {
        case .lsm, .sqlite, .json: return path
        case .memory: return "memory"
        case .postgres:
            var server = connectionString
            if var u = URLComponents(string: connectionString) {
                u.password = nil
                server = u.string ?? connectionString
            }
            return server + " (tables \(postgresTablePrefix)*)"
        }
    }

    /// Bytes the store takes on disk and in its log (nil where the CLI
    /// cannot tell: a server's tables, memory).
    func diskUsage() -> (total: UInt64, log: UInt64)? {
        let fm = FileManager.default
        func size(_ p: String) -> UInt64 { ((try? fm.attributesOfItem(atPath: p))?[.size] as? NSNumber)?.uint64Value ?? 0 }
        switch backend {
        case .lsm:
            guard let names = try? fm.contentsOfDirectory(atPath: path) else { return nil }
            var total: UInt64 = 0, log: UInt64 = 0
            for n in names {
                let s = size(path + "/" + n)
                total += s
                if n.hasSuffix(".log") { log += s }
            }
            return (total, log)
        case .sqlite:
            let wal = size(path + "-wal")
            return (size(path) + wal + size(path + "-shm"), wal)
        case .json:
            guard let walker = fm.enumerator(atPath: path) else { return nil }
            var total: UInt64 = 0
            while let rel = walker.nextObject() as? String { total += size(path + "/" + rel) }
            return (total, 0)
        case .postgres, .memory:
            return nil
        }
    }
}

extension StoreLocation {
    /// A read-only store for `--follow`: `round(store, n)` is called round
    /// after round, and between rounds the store's view moves forward the
    /// way its backend allows: an LSM store catches up with the process
    /// writing it (`LSMMessageStore.catchUp()`), a JSON store (held whole
    /// in memory) is read again, SQLite and PostgreSQL answer every query
    /// from what is committed now. A `memory:` store lives in one process,
    /// so following it is refused.
    func following(_ follow: FollowOptions, _ round: (any MessageStore, Int) async throws -> Void) async throws {
        let c = try configuration()
        if follow.follow && c.backend == .memory {
            throw CLIError.usage("--follow needs a store another process writes; a memory: store lives in one process")
        }
        var store = try await open(readOnly: true)
        do {
            try await follow.rounds { n in
                if n > 1 {
                    if let lsm = store as? LSMMessageStore {
                        try await failing("catch up") { _ = try await lsm.catchUp() }
                    } else if c.backend == .json {
                        try? await store.close()
                        store = try await open(readOnly: true)
                    }
                }
                try await round(store, n)
            }
        } catch {
            try? await store.close()
            throw error
        }
        try? await store.close()
    }
}
