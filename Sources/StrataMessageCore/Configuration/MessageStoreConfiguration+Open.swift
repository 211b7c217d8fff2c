extension MessageStoreConfiguration {
    /// Opens the memory and JSON backends, the two this module holds; for
    /// the others it throws, naming the module that opens them. Importing
    /// StrataMessageStore brings the `open()` that opens every backend (this
    /// one is then not chosen).
    @_disfavoredOverload
    public func open(clock: MessageClock = .system) async throws -> any MessageStore {
        try validate()
        if let store = try openCoreBackend(clock: clock) { return applyingDefaults(to: store) }
        let module = backend == .lsm ? "StrataMessageStore" : "StrataMessageStore (package trait \(backend == .sqlite ? "SQLite" : "PostgreSQL"))"
        throw MessageStoreConfigurationError(setting: "storage.type", value: backend.rawValue, source: "configuration",
                                             reason: "this backend is opened by \(module); import it, or construct the store directly")
    }

    /// Opens the memory or JSON backend (as `open(clock:)`) wrapped in an
    /// `InstrumentedMessageStore` reporting to `observability`; the
    /// StrataMessageStore overload does it for every backend.
    @_disfavoredOverload
    public func open(clock: MessageClock = .system, observability: StoreObservability) async throws -> InstrumentedMessageStore {
        let store: any MessageStore = try await open(clock: clock)
        return try await observability.wrap(store)
    }

    /// The memory or JSON store of this configuration; nil for other backends.
    package func openCoreBackend(clock: MessageClock) throws -> (any MessageStore)? {
        switch backend {
        case .memory: return InMemoryMessageStore(clock: clock)
        case .json: return try JSONFileMessageStore(directory: path, options: jsonOptions(clock: clock))
        case .lsm, .sqlite, .postgres: return nil
        }
    }

    /// The JSON store's options this configuration describes (save
    /// interval, rotations, indenting), for a tool that changes more, e.g.
    /// `readOnly`, and opens the store itself.
    public func jsonOptions(clock: MessageClock = .system) -> JSONFileMessageStore.Options {
        var o = JSONFileMessageStore.Options()
        o.saveInterval = effectiveJSONSaveInterval
        o.backupCount = jsonBackupCount
        o.prettyPrint = jsonPrettyPrint
        o.clock = clock
        return o
    }
}
