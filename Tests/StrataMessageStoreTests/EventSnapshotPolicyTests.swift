import Foundation
import StrataMessageCore
import StrataMessageStore
import Testing

/// `SnapshotPolicy` (any trigger that fires) and the `SnapshotScheduler`
/// that drives it over a store.
@Suite struct EventSnapshotPolicyTests {
    @Test func anyTriggerThatFiresMakesAStreamDue() {
        let p = SnapshotPolicy(everyEvents: 10, everyBytes: 1000, every: .seconds(60))
        #expect(!p.isDue(events: 0, bytes: 5000, elapsed: .seconds(600)))  // nothing new: never due
        #expect(!p.isDue(events: 9, bytes: 999, elapsed: .seconds(59)))
        #expect(p.isDue(events: 10, bytes: 0, elapsed: .zero))
        #expect(p.isDue(events: 1, bytes: 1000, elapsed: .zero))
        #expect(p.isDue(events: 1, bytes: 0, elapsed: .seconds(60)))
        let none = SnapshotPolicy()
        #expect(!none.isDue(events: 1_000_000, bytes: 1 << 30, elapsed: .seconds(1_000_000)))
        #expect(SnapshotPolicy(everyBytes: 8).isDue(events: 2, bytes: 8, elapsed: .zero))
    }

    /// The state is the sum of payload bytes; snapshots carry it.
    private final class Sums: Sendable {
        private let state = StoreLock<(sums: [String: Int], requests: [(String, Int64)])>(([:], []))
        func add(_ e: Event) { state.withLock { $0.sums[e.stream, default: 0] += e.payload.reduce(0) { $0 + Int($1) } } }
        func snapshot(_ stream: String, _ upto: Int64) -> EventSnapshot {
            state.withLock {
                $0.requests.append((stream, upto))
                return EventSnapshot(stream: stream, uptoLSN: upto, state: Array(String($0.sums[stream, default: 0]).utf8))
            }
        }
        var count: Int { state.withLock { $0.requests.count } }
        var requests: [(String, Int64)] { state.withLock { $0.requests } }
    }

    @Test func theSchedulerSnapshotsEachStreamWhenItsPolicyFires() async throws {
        let store = InMemoryEventStore()
        let sums = Sums()
        let scheduler = SnapshotScheduler(store: store, policy: SnapshotPolicy(everyEvents: 5)) { stream, upto in sums.snapshot(stream, upto) }
        var last: Int64 = 0
        for i in 0..<12 {
            let e = Event(stream: i % 3 == 0 ? "b" : "a", payload: [UInt8(i)])
            sums.add(e)
            last = try await scheduler.append(e)
        }
        // "a" got 8 events (due at its 5th), "b" 4 (not due).
        #expect(sums.requests.map(\.0) == ["a"])
        let snap = try #require(try await store.latestSnapshot(stream: "a"))
        #expect(try await store.load(stream: "a", after: snap.uptoLSN, limit: 100).count == 3)
        #expect(try await store.latestSnapshot(stream: "b") == nil)
        // A batch that makes "b" due snapshots it up to the batch's last LSN.
        last = try await scheduler.append(contentsOf: [Event(stream: "b", payload: [1]), Event(stream: "a", payload: [2])])
        #expect(try await store.latestSnapshot(stream: "b")?.uptoLSN == last)
        // Recovery from what the scheduler wrote gives the full state.
        var sum = 0
        _ = try await store.recover(stream: "a", restore: { sum = Int(String(decoding: $0.state, as: UTF8.self))! },
                                    apply: { for e in $0 { sum += e.payload.reduce(0) { $0 + Int($1) } } })
        let all = try await store.load(stream: "a", after: 0, limit: 100).reduce(0) { $0 + $1.payload.reduce(0) { $0 + Int($1) } }
        #expect(sum == all)
    }

    @Test func theTimeTriggerFiresFromTheServiceLoopAndCancellationEndsIt() async throws {
        let store = InMemoryEventStore()
        let sums = Sums()
        let scheduler = SnapshotScheduler(store: store, policy: SnapshotPolicy(every: .milliseconds(1)), tick: .milliseconds(5)) { s, u in sums.snapshot(s, u) }
        // Appends alone snapshot nothing until the interval has passed
        // (the first append starts the clock); then the loop takes it.
        let lsn = try await scheduler.append(Event(stream: "s", payload: [1]))
        let loop = Task { try await scheduler.run() }
        while try await store.latestSnapshot(stream: "s") == nil { try await Task.sleep(for: .milliseconds(5)) }
        #expect(try await store.latestSnapshot(stream: "s")?.uptoLSN == lsn)
        loop.cancel()
        try await loop.value
        let n = sums.count
        _ = try await store.append(Event(stream: "s", payload: [2]))
        try await Task.sleep(for: .milliseconds(30))
        #expect(sums.count == n)  // the loop ended: nothing more is snapshotted
    }
}
