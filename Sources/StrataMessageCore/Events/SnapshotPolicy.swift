import ServiceLifecycle

/// When a stream is due for a snapshot: after `everyEvents` events, after
/// `everyBytes` payload bytes, or `every` after the last snapshot — any that
/// fires (nil = that trigger is off).
public struct SnapshotPolicy: Sendable, Equatable {
    /// Events since the last snapshot that make one due.
    public var everyEvents: Int?
    /// Payload bytes since the last snapshot that make one due.
    public var everyBytes: Int?
    /// Time since the last snapshot that makes one due (if any event came since).
    public var every: Duration?

    /// A policy; at least one trigger should be set (none = never due).
    public init(everyEvents: Int? = nil, everyBytes: Int? = nil, every: Duration? = nil) {
        self.everyEvents = everyEvents
        self.everyBytes = everyBytes
        self.every = every
    }

    /// Whether a stream with `events` events of `bytes` payload bytes since
    /// its last snapshot, taken `elapsed` ago, is due.
    public func isDue(events: Int, bytes: Int, elapsed: Duration) -> Bool {
        guard events > 0 else { return false }
        if let n = everyEvents, events >= n { return true }
        if let n = everyBytes, bytes >= n { return true }
        if let t = every, elapsed >= t { return true }
        return false
    }
}

/// Drives a `SnapshotPolicy` for an application: appends go through it, it
/// counts events and bytes per stream, and when the policy fires it asks
/// `makeSnapshot` for the stream's state up to the last appended LSN and
/// writes it. `run()` (a ServiceLifecycle `Service`) checks the time trigger
/// every `tick` until cancelled. The counters start at zero when the
/// scheduler is created (a fresh process counts from there).
public final class SnapshotScheduler: Service, Sendable {
    /// Builds a stream's snapshot covering events up to `uptoLSN`; nil skips it.
    public typealias MakeSnapshot = @Sendable (_ stream: String, _ uptoLSN: Int64) async throws -> EventSnapshot?

    private struct Pending {
        var events = 0, bytes = 0
        var lastLSN: Int64 = 0
        var since: ContinuousClock.Instant
    }
    private let store: any EventStore
    private let policy: SnapshotPolicy
    private let makeSnapshot: MakeSnapshot
    private let tick: Duration
    private let pending = StoreLock([String: Pending]())

    /// A scheduler writing `store`'s snapshots under `policy`.
    public init(store: any EventStore, policy: SnapshotPolicy, tick: Duration = .seconds(1), makeSnapshot: @escaping MakeSnapshot) {
        self.store = store
        self.policy = policy
        self.tick = tick
        self.makeSnapshot = makeSnapshot
    }

    /// Appends through the store, then snapshots the streams that came due.
    @discardableResult
    public func append(contentsOf events: [Event]) async throws -> Int64 {
        let last = try await store.append(contentsOf: events)
        let now = ContinuousClock.now
        let due = pending.withLock { p -> [String] in
            // `last` bounds every stream's events of the batch: a snapshot
            // "up to `last`" of each covers all of them.
            for e in events {
                p[e.stream, default: Pending(since: now)].events += 1
                p[e.stream, default: Pending(since: now)].bytes += e.payload.count
                p[e.stream, default: Pending(since: now)].lastLSN = max(p[e.stream, default: Pending(since: now)].lastLSN, last)
            }
            return Set(events.map(\.stream)).filter { s in
                p[s].map { policy.isDue(events: $0.events, bytes: $0.bytes, elapsed: now - $0.since) } ?? false
            }.sorted()
        }
        for s in due { try await snapshot(s) }
        return last
    }

    /// Appends one event (see `append(contentsOf:)`).
    @discardableResult
    public func append(_ event: Event) async throws -> Int64 { try await append(contentsOf: [event]) }

    /// Snapshots every stream whose policy fired (the time trigger included).
    public func snapshotDueStreams() async throws {
        let now = ContinuousClock.now
        let due = pending.withLock { p in
            p.filter { policy.isDue(events: $0.value.events, bytes: $0.value.bytes, elapsed: now - $0.value.since) }.keys.sorted()
        }
        for s in due { try await snapshot(s) }
    }

    private func snapshot(_ stream: String) async throws {
        guard let upto = pending.withLock({ $0[stream]?.lastLSN }) else { return }
        if let snap = try await makeSnapshot(stream, upto) { try await store.writeSnapshot(snap) }
        pending.withLock { p in
            // Events appended while the snapshot was built stay counted.
            guard let cur = p[stream] else { return }
            p[stream] = cur.lastLSN <= upto ? nil : Pending(events: 1, bytes: 0, lastLSN: cur.lastLSN, since: .now)
        }
    }

    /// Checks the policy every `tick` until cancelled (graceful shutdown).
    public func run() async throws {
        while !Task.isCancelled {
            do { try await Task.sleep(for: tick) } catch { return }
            try await snapshotDueStreams()
        }
    }
}
