import Foundation

/// Which message store to open and how: the backend, where its data lives
/// and the settings a broker tunes. Built from a URL (`init(url:)`), from a
/// YAML or JSON file and the environment (`load(file:environment:)`), or
/// field by field; `open()` returns the store. Docs/message-store.md
/// ("Using it in a broker") lists every key, variable and URL form.
public struct MessageStoreConfiguration: Sendable, Equatable {
    /// The storage backends.
    public enum Backend: String, Sendable, CaseIterable {
        /// `InMemoryMessageStore`: nothing survives the process.
        case memory
        /// `LSMMessageStore` on the Strata engine (module StrataMessageStore).
        case lsm
        /// `SQLiteMessageStore`, one SQLite file (module StrataSQLite).
        case sqlite
        /// `PostgresMessageStore` (module StrataPostgres).
        case postgres
        /// `JSONFileMessageStore`: human-readable files in a directory.
        case json
    }

    /// How durable a call is when it returns, for every backend (each maps
    /// it to its own knob; Docs/message-store.md has the table).
    public enum CommitMode: Sendable, Equatable {
        /// Kept in memory; written at close (and, for the engine, on flush).
        case memoryOnly
        /// Written before the call returns, synced in the background within
        /// `groupWindow`: a power loss may drop the last window.
        case asyncDurable(groupWindow: Duration)
        /// Synced to disk before the call returns.
        case syncDurable
    }

    /// The backend.
    public var backend: Backend
    /// The LSM store's directory, the SQLite file or the JSON directory;
    /// empty for memory and PostgreSQL.
    public var path: String
    /// The PostgreSQL connection string (`postgresql://user@host:port/db`);
    /// empty for the other backends.
    public var connectionString: String
    /// Durability of every write. Default `.syncDurable`.
    public var commitMode: CommitMode = .syncDurable
    /// Memory for cached messages (the LSM store's `cacheBudgetBytes`).
    /// Default 64 MiB.
    public var cacheBudgetBytes: Int = 64 << 20
    /// How many of each queue's newest messages the LSM store keeps in
    /// memory for `recent(queue:limit:)`. Default 64.
    public var recentPerQueue: Int = 64
    /// PostgreSQL connections kept open. Default 8.
    public var postgresPoolSize: Int = 8
    /// How long a PostgreSQL call waits for a pooled connection before it
    /// fails `.unavailable` (`PostgresConfiguration.connectionWait`).
    /// Default 30 seconds. File key `storage.postgres.connection_wait`,
    /// environment `STRATA_POSTGRES_CONNECTION_WAIT` (`30s`, `500ms`, `2m`).
    public var postgresConnectionWait: Duration = .seconds(30)
    /// Prefix of the PostgreSQL store's tables. Default `strata_`.
    public var postgresTablePrefix: String = "strata_"
    /// JSON backend: nil saves every change before the call returns;
    /// a duration debounces saves (changes within it are written together).
    /// Default: nil with `.syncDurable`, the group window with
    /// `.asyncDurable`, one second with `.memoryOnly`.
    public var jsonSaveInterval: Duration?
    /// JSON backend: how many earlier copies of each file are kept (the
    /// newest good one is used when a file is corrupted). Default 5.
    public var jsonBackupCount: Int = 5
    /// JSON backend: indent the files for reading. Default true.
    public var jsonPrettyPrint: Bool = true
    /// The lock a receive takes when its caller names none (`lockDuration`
    /// nil: `QueueConsumer`, `messages(queue:lockDuration:)`, `receive`).
    /// Default nil: each queue's own `QueueSettings.lockDuration` (30 s
    /// unless the queue sets one). When set it is used instead of the
    /// queue's for such receives, on every backend; a caller's explicit
    /// duration still wins. 1 ms to ten years.
    public var lockDuration: Duration?

    /// A configuration of `backend` at `path` (or `connectionString`), every
    /// other setting at its default.
    public init(backend: Backend, path: String = "", connectionString: String = "") {
        self.backend = backend
        self.path = path
        self.connectionString = connectionString
    }

    /// A configuration from a store URL: `memory:`, `lsm:PATH`,
    /// `sqlite:PATH`, `json:DIR`, `postgresql://user@host:port/db` (or
    /// `postgres://…`; a `table_prefix=P` query parameter sets
    /// `postgresTablePrefix` and is not passed to the server). `lsm://PATH`
    /// and the like are accepted too. Every
    /// other setting takes its default. An unknown scheme or a missing path
    /// is a `MessageStoreConfigurationError` naming the URL.
    public init(url: String) throws {
        try self.init(url: url, setting: "url", source: "argument")
    }

    package init(url raw: String, setting: String, source: String) throws {
        let url = raw.trimmingCharacters(in: .whitespaces)
        func bad(_ reason: String) -> MessageStoreConfigurationError {
            MessageStoreConfigurationError(setting: setting, value: raw, source: source, reason: reason)
        }
        guard let colon = url.firstIndex(of: ":") else {
            throw bad("not a store URL (memory:, lsm:PATH, sqlite:PATH, json:DIR, postgresql://user@host:port/db)")
        }
        let scheme = url[..<colon].lowercased()
        var rest = String(url[url.index(after: colon)...])
        switch scheme {
        case "postgresql", "postgres":
            guard rest.hasPrefix("//"), rest.count > 2 else { throw bad("a PostgreSQL URL is postgresql://user@host:port/db") }
            // `table_prefix` is Strata's, not libpq's: it leaves the connection string.
            let (connection, prefix) = Self.splittingTablePrefix(url)
            self.init(backend: .postgres, connectionString: connection)
            if let prefix { postgresTablePrefix = prefix }
            return
        case "memory", "in-memory", "inmemory":
            let trimmed = rest.hasPrefix("//") ? String(rest.dropFirst(2)) : rest
            guard trimmed.isEmpty else { throw bad("memory: takes no path") }
            self.init(backend: .memory)
            return
        default:
            break
        }
        guard let backend = Backend(rawValue: scheme), backend != .postgres, backend != .memory else {
            throw bad("unknown backend '\(scheme)' (memory, lsm, sqlite, json, postgresql)")
        }
        if rest.hasPrefix("//") { rest.removeFirst(2) }
        guard !rest.isEmpty else { throw bad("\(scheme): needs a path, as in \(scheme):./data/store") }
        self.init(backend: backend, path: rest)
    }

    /// The configuration as a URL (`init(url:)` reads it back; settings
    /// other than the backend and its location — for PostgreSQL the table
    /// prefix when it is not the default — are not part of it).
    public var url: String {
        switch backend {
        case .memory: return "memory:"
        case .postgres:
            guard postgresTablePrefix != "strata_" else { return connectionString }
            return connectionString + (connectionString.contains("?") ? "&" : "?") + "table_prefix=" + postgresTablePrefix
        case .lsm, .sqlite, .json: return "\(backend.rawValue):\(path)"
        }
    }

    /// `url` without its `table_prefix` query parameter, and that parameter's value.
    static func splittingTablePrefix(_ url: String) -> (connection: String, tablePrefix: String?) {
        guard var parts = URLComponents(string: url), let items = parts.queryItems,
              let item = items.last(where: { $0.name == "table_prefix" }) else { return (url, nil) }
        let rest = items.filter { $0.name != "table_prefix" }
        parts.queryItems = rest.isEmpty ? nil : rest
        return (parts.string ?? url, item.value ?? "")
    }

    /// Checks every setting, throwing the first bad one.
    public func validate() throws {
        func bad(_ setting: String, _ value: String, _ reason: String) -> MessageStoreConfigurationError {
            MessageStoreConfigurationError(setting: setting, value: value, source: "configuration", reason: reason)
        }
        switch backend {
        case .memory: break
        case .postgres:
            if connectionString.isEmpty { throw bad("postgres.url", "", "PostgreSQL needs a connection string") }
        case .lsm, .sqlite, .json:
            if path.isEmpty { throw bad("\(backend.rawValue).path", "", "\(backend.rawValue) needs a path") }
        }
        if cacheBudgetBytes < 0 { throw bad("cache_budget", "\(cacheBudgetBytes)", "must not be negative") }
        if recentPerQueue < 0 { throw bad("lsm.recent_per_queue", "\(recentPerQueue)", "must not be negative") }
        if postgresPoolSize < 1 { throw bad("postgres.pool_size", "\(postgresPoolSize)", "must be at least 1") }
        if postgresTablePrefix.isEmpty || !postgresTablePrefix.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }) {
            throw bad("postgres.table_prefix", postgresTablePrefix, "must be letters, digits and _")
        }
        if jsonBackupCount < 0 || jsonBackupCount > 100 { throw bad("json.backup_count", "\(jsonBackupCount)", "must be 0...100") }
        if let i = jsonSaveInterval, i < .zero || i > .seconds(86400) {
            throw bad("json.save_interval_ms", "\(i.milliseconds)", "must be 0...86400000")
        }
        if let d = lockDuration, d < .milliseconds(1) || d > QueueSettings.longest {
            throw bad("lock_duration", "\(d.milliseconds)ms", "must be 1ms to ten years")
        }
        if case .asyncDurable(let w) = commitMode, w < .zero || w > .seconds(60) {
            throw bad("group_window_ms", "\(w.milliseconds)", "must be 0...60000")
        }
    }

    /// `store` as `open()` returns it: when `lockDuration` is set, wrapped
    /// so that receives naming no lock duration lock for it — one wrapper
    /// for every backend, so every caller passing nil (`QueueConsumer`,
    /// `messages(queue:lockDuration:)`) gets the same rule. Renewals, as
    /// for any receive naming its duration, extend by the queue's lock.
    package func applyingDefaults(to store: any MessageStore) -> any MessageStore {
        guard let lockDuration else { return store }
        return ForwardingMessageStore(store, receive: { base, call in
            var call = call
            if call.lockDuration == nil { call.lockDuration = lockDuration }
            return try await call.run(on: base)
        })
    }

    /// The JSON backend's debounce interval after the commit mode is applied.
    package var effectiveJSONSaveInterval: Duration? {
        if let jsonSaveInterval { return jsonSaveInterval > .zero ? jsonSaveInterval : nil }
        switch commitMode {
        case .syncDurable: return nil
        case .asyncDurable(let w): return w > .zero ? w : nil
        case .memoryOnly: return .seconds(1)
        }
    }
}

/// A bad setting: which one, its value, where it came from and why it is
/// refused. Its description is one line a broker can print and exit on.
public struct MessageStoreConfigurationError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The setting, as the file spells it (`storage.commit_mode`) or the
    /// environment variable (`STRATA_COMMIT_MODE`).
    public let setting: String
    /// The refused value, as written.
    public let value: String
    /// Where the value came from: `environment`, a file path (with its
    /// line), `argument` or `configuration`.
    public let source: String
    /// Why it is refused, with the accepted forms.
    public let reason: String

    /// Creates an error.
    public init(setting: String, value: String, source: String, reason: String) {
        self.setting = setting
        self.value = value
        self.source = source
        self.reason = reason
    }

    public var description: String { "bad setting \(setting) = '\(value)' (\(source)): \(reason)" }
}
