import ServiceLifecycle

/// Runs a store as a swift-service-lifecycle `Service`: `run()` waits for
/// graceful shutdown, then closes the store (final flush of its engine).
/// Add it to a `ServiceGroup` beside the broker's other services.
public struct MessageStoreService: Service {
    /// The store this service owns.
    public let store: any MessageStore

    /// A service that closes `store` on graceful shutdown.
    public init(store: any MessageStore) { self.store = store }

    public func run() async throws {
        try? await gracefulShutdown()
        try await store.close()
    }
}
