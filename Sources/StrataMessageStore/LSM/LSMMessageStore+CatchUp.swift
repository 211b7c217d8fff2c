import Strata
import StrataMessageCore

/// Following a store that another process (a broker) writes: a store opened
/// with `engine.readOnly` sees the store as of its open; `catchUp()` moves
/// it forward.
extension LSMMessageStore {
    /// Brings a read-only store up to date with the process writing it: the
    /// engine catches up (`Database.catchUp()`: the MANIFEST and the newer
    /// logs read again), then the store reads its entity catalog again and
    /// forgets every queue's cached window and newest-messages ring, so the
    /// next `statistics`, `pending`, `queues` or `recent` reads the new
    /// state (queue heads included) from the engine. Returns whether the
    /// view moved; when it did not, the caches are kept.
    ///
    /// Only for a store opened read-only (`MessageStoreOptions.engine.readOnly`):
    /// a writing store's caches are the truth, not a copy of it, so on one
    /// this throws `.invalidArgument`. An error leaves the earlier view.
    @discardableResult
    public func catchUp() async throws -> Bool {
        let o = try opened()
        guard options.engine.readOnly else {
            throw MessageStoreError(.invalidArgument, "catchUp() is for a store opened read-only; \(path) is open for writing")
        }
        // The catch-up reads the MANIFEST and every live log: off the pool.
        let fresh = try await offload {
            try mappingEngineErrors { () -> EntityCatalog? in try o.db.catchUp() ? try Self.loadCatalog(o) : nil }
        }
        guard let fresh else { return false }
        catalog.withLock { $0 = fresh }
        runtimes.withLock { $0 = [:] }
        return true
    }
}
