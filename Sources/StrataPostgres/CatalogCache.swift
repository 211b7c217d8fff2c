import StrataMessageCore

/// The store's copy of the entity catalog. It is used only while the
/// notification listener is connected (a change by any process then
/// invalidates it within the notification's latency); a read that raced
/// with an invalidation is not kept.
final class CatalogCache: Sendable {
    private struct State {
        var catalog: EntityCatalog?
        var generation: UInt64 = 0
        var listening = false
    }
    private let state = StoreLock(State())

    /// The cached catalog, when there is one and it can be trusted.
    var cached: EntityCatalog? { state.withLock { $0.listening ? $0.catalog : nil } }

    /// Whether the listener hears the store's notifications now.
    var isListening: Bool { state.withLock { $0.listening } }

    /// Taken before a read from the database, handed to `store`.
    var ticket: UInt64 { state.withLock { $0.generation } }

    /// Keeps `catalog` unless the cache was invalidated since `ticket`.
    func store(_ catalog: EntityCatalog, _ ticket: UInt64) {
        state.withLock { s in if s.generation == ticket && s.listening { s.catalog = catalog } }
    }

    func invalidate() {
        state.withLock { s in
            s.generation &+= 1
            s.catalog = nil
        }
    }

    func setListening(_ on: Bool) {
        state.withLock { s in
            s.listening = on
            s.generation &+= 1
            s.catalog = nil
        }
    }
}
