import Metrics
import Tracing

/// Where a store opened by `MessageStoreConfiguration.open(clock:observability:)`
/// sends its metrics, spans and events: the configuration wraps the backend
/// it opens in an `InstrumentedMessageStore` built from these, so every
/// backend reports the same instruments (`queue` dimension, `_total`
/// counters, timers) and the same spans, with the trace context in the
/// message headers.
public struct StoreObservability: Sendable {
    /// The factory of every instrument; nil = the global `MetricsSystem.factory`.
    public var metricsFactory: (any MetricsFactory)?
    /// The tracer of the spans; nil = `InstrumentationSystem.tracer`.
    public var tracer: (any Tracer)?
    /// Persistence events (share it with an `AlertMonitor` or a `SnapshotService`).
    public var events: StoreEventHub

    /// Observability through `metricsFactory`, `tracer` and `events`.
    public init(metricsFactory: (any MetricsFactory)? = nil, tracer: (any Tracer)? = nil, events: StoreEventHub = StoreEventHub()) {
        self.metricsFactory = metricsFactory
        self.tracer = tracer
        self.events = events
    }

    /// `store`, observed; `initialize()` has run (it emits `storeLoaded`).
    package func wrap(_ store: any MessageStore) async throws -> InstrumentedMessageStore {
        let observed = InstrumentedMessageStore(store, metricsFactory: metricsFactory, tracer: tracer, events: events)
        do {
            try await observed.initialize()
        } catch {
            try? await store.close()
            throw error
        }
        return observed
    }
}
