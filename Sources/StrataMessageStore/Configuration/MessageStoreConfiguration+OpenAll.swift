import Metrics
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
        try await open(clock: clock, lsmOptions: lsmOptions(clock: clock))
    }

    /// Opens the configured store on any backend (as `open(clock:)`),
    /// wrapped in an `InstrumentedMessageStore` that reports to
    /// `observability`: the same metrics (`queue` dimension, `_total`
    /// counters, timers), spans (add, receive, complete, trace context in
    /// the headers) and events on every backend. The LSM store's engine
    /// reports to the same factory; its own unlabelled message instruments
    /// are turned off (the wrapper's replace them, so no label is reported
    /// twice with two sets of dimensions). `initialize()` has run.
    public func open(clock: MessageClock = .system, observability: StoreObservability) async throws -> InstrumentedMessageStore {
        var o = lsmOptions(clock: clock)
        o.engine.metricsFactory = observability.metricsFactory ?? MetricsSystem.factory
        o.metricsFactory = NOOPMetricsHandler.instance
        return try await observability.wrap(try await open(clock: clock, lsmOptions: o))
    }

    /// The LSM store's options this configuration implies (what `open()`
    /// uses; a tool may change more, e.g. `engine.readOnly`, and open the
    /// store with `LSMMessageStore.open(at: path, options:)`).
    public func lsmOptions(clock: MessageClock = .system) -> MessageStoreOptions {
        var o = MessageStoreOptions()
        o.clock = clock
        o.cacheBudgetBytes = cacheBudgetBytes
        o.recentMessagesPerQueue = recentPerQueue
        switch commitMode {
        case .memoryOnly: o.commitMode = .memoryOnly
        case .asyncDurable(let w): o.commitMode = .asyncDurable(groupWindow: w)
        case .syncDurable: o.commitMode = .syncDurable
        }
        return o
    }

    private func open(clock: MessageClock, lsmOptions: MessageStoreOptions) async throws -> any MessageStore {
        applyingDefaults(to: try await openBackend(clock: clock, lsmOptions: lsmOptions))
    }

    private func openBackend(clock: MessageClock, lsmOptions: MessageStoreOptions) async throws -> any MessageStore {
        try validate()
        if let store = try openCoreBackend(clock: clock) { return store }
        switch backend {
        case .lsm:
            return try await LSMMessageStore.open(at: path, options: lsmOptions)
        case .sqlite:
            #if SQLite
            return try SQLiteMessageStore(path: path, synchronous: commitMode == .syncDurable ? .full : .normal, clock: clock)
            #else
            throw missing("SQLite")
            #endif
        case .postgres:
            #if PostgreSQL
            return try await PostgresMessageStore(configuration: PostgresConfiguration(connectionString: connectionString, poolSize: postgresPoolSize,
                                                                                 tablePrefix: postgresTablePrefix,
                                                                                 connectionWait: postgresConnectionWait), clock: clock)
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
