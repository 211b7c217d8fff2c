import Foundation
import ServiceLifecycle

/// Periodic snapshots (seeds 003 and 004): every `interval` the store gets
/// a snapshot named `<prefix><UTC time>` (e.g. `auto-20260102T030405Z`),
/// and the oldest snapshots with that prefix beyond `keep` are deleted
/// (the store's own `maxSnapshots` applies as well). Interval 0 turns it
/// off (`run()` returns at once). A swift-service-lifecycle `Service`:
/// stops at graceful shutdown or cancellation; a failed snapshot is
/// reported on `events` and retried at the next tick.
public struct SnapshotService: Service {
    /// The store snapshotted.
    public let store: any MessageStore
    /// Time between snapshots; 0 = off.
    public let interval: Duration
    /// Name prefix of this service's snapshots.
    public let prefix: String
    /// Snapshots with `prefix` kept (0 = all).
    public let keep: Int
    /// Where created snapshots and failures are reported (nil = only logged
    /// by the store).
    public let events: StoreEventHub?

    /// A service snapshotting `store` every `interval`.
    public init(store: any MessageStore, interval: Duration, prefix: String = "auto-", keep: Int = 0, events: StoreEventHub? = nil) {
        self.store = store
        self.interval = interval
        self.prefix = prefix
        self.keep = keep
        self.events = events
    }

    public func run() async throws {
        guard interval > .zero else { return }
        try await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try await Task.sleep(for: interval)
                do { _ = try await snapshotNow() } catch is CancellationError { return } catch {
                    events?.emit(.persistenceError(operation: "periodic snapshot", error: "\(error)"))
                }
            }
        }
    }

    /// Takes one snapshot now and applies `keep`; returns it.
    @discardableResult
    public func snapshotNow() async throws -> SnapshotInfo {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyyMMdd'T'HHmmss.SSS'Z'"
        var name = prefix + f.string(from: Date())
        let existing = Set(try await store.snapshots().map(\.name))
        var n = 1
        while existing.contains(name) {
            n += 1
            name = prefix + f.string(from: Date()) + "-\(n)"
        }
        let info = try await store.createSnapshot(name: name)
        // An InstrumentedMessageStore reports to its own hub already.
        let reported = (store as? InstrumentedMessageStore)?.events
        let ownHub = events.flatMap { $0 === reported ? nil : $0 }
        ownHub?.emit(.snapshotCreated(info))
        if keep > 0 {
            let mine = try await store.snapshots().filter { $0.name.hasPrefix(prefix) }
            for old in mine.dropLast(keep) {
                try await store.deleteSnapshot(name: old.name)
                ownHub?.emit(.snapshotDeleted(name: old.name))
            }
        }
        return info
    }
}
