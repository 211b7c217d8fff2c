import Strata
import StrataMessageCore
#if SQLite
import StrataSQLite
#endif
#if PostgreSQL
import StrataPostgres
#endif

extension MessageStoreConfiguration {
    /// Opens the configured store on any backend: memory and JSON (from
    /// StrataMessageCore), the LSM store, and SQLite and PostgreSQL when
    /// their package traits (on by default) are enabled. Settings a backend
    /// has no use for are ignored (Docs/message-store.md has the table).
    public func open(clock: MessageClock = .system) async throws -> any MessageStore {
        try validate()
        if let store = try openCoreBackend(clock: clock) { return store }
        switch backend {
        case .lsm:
            var o = MessageStoreOptions()
            o.clock = clock
            o.cacheBudgetBytes = cacheBudgetBytes
            o.recentMessagesPerQueue = recentPerQueue
            switch commitMode {
            case .memoryOnly: o.commitMode = .memoryOnly
            case .asyncDurable(let w): o.commitMode = .asyncDurable(groupWindow: w)
            case .syncDurable: o.commitMode = .syncDurable
            }
            return try await LSMMessageStore.open(at: path, options: o)
        case .sqlite:
            #if SQLite
            return try SQLiteMessageStore(path: path, synchronous: commitMode == .syncDurable ? .full : .normal, clock: clock)
            #else
            throw missing("SQLite")
            #endif
        case .postgres:
            #if PostgreSQL
            return try await PostgresMessageStore(configuration: PostgresConfiguration(connectionString: connectionString, poolSize: postgresPoolSize,
                                                                                 tablePrefix: postgresTablePrefix), clock: clock)
            #else
            throw missing("PostgreSQL")
            #endif
        case .memory, .json:
            throw MessageStoreConfigurationError(setting: "storage.type", value: backend.rawValue, source: "configuration", reason: "not opened")
        }
    }

    private func missing(_ trait: String) -> MessageStoreConfigurationError {
        MessageStoreConfigurationError(setting: "storage.type", value: backend.rawValue, source: "configuration",
                                       reason: "this build of StrataMessageStore has the \(trait) package trait turned off")
    }
}
