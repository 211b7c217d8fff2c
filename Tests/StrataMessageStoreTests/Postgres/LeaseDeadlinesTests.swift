import Synchronization
import Testing
@testable import StrataPostgres

/// The one watcher that gives up connection waits (no server needed).
struct LeaseDeadlinesTests {
    /// Counts calls of an expiry closure.
    private final class Calls: Sendable {
        let count = Atomic<Int>(0)
        func hit() { count.add(1, ordering: .relaxed) }
        var value: Int { count.load(ordering: .relaxed) }
    }

    /// Waits (in 10 ms steps, up to 10 s) until `done` holds.
    private func eventually(_ done: () -> Bool) async throws {
        for _ in 0..<1000 where !done() { try await Task.sleep(for: .milliseconds(10)) }
    }

    @Test func aPassedDeadlineFiresOnceAndARemovedOneNever() async throws {
        let deadlines = LeaseDeadlines(tick: .milliseconds(5))
        let fired = Calls(), removed = Calls()
        let soon = deadlines.register(deadline: .now + .milliseconds(20)) { fired.hit() }
        let gone = deadlines.register(deadline: .now + .milliseconds(20)) { removed.hit() }
        deadlines.remove(gone)
        try await eventually { fired.value > 0 }
        #expect(fired.value == 1)
        // Well past both deadlines: neither fires (again).
        try await Task.sleep(for: .milliseconds(100))
        #expect(fired.value == 1)
        #expect(removed.value == 0)
        deadlines.remove(soon)  // after it fired: nothing to remove, no harm
    }

    /// The watcher stops when nothing waits and starts again for the next wait.
    @Test func theWatcherRestartsAfterGoingIdle() async throws {
        let deadlines = LeaseDeadlines(tick: .milliseconds(5))
        let first = Calls(), second = Calls()
        _ = deadlines.register(deadline: .now + .milliseconds(10)) { first.hit() }
        try await eventually { first.value > 0 }
        try await Task.sleep(for: .milliseconds(50))  // several empty ticks: the watcher has stopped
        _ = deadlines.register(deadline: .now + .milliseconds(10)) { second.hit() }
        try await eventually { second.value > 0 }
        #expect(first.value == 1)
        #expect(second.value == 1)
    }

    /// A deadline far away does not fire while a near one does.
    @Test func onlyPassedDeadlinesFire() async throws {
        let deadlines = LeaseDeadlines(tick: .milliseconds(5))
        let near = Calls(), far = Calls()
        let later = deadlines.register(deadline: .now + .seconds(600)) { far.hit() }
        _ = deadlines.register(deadline: .now + .milliseconds(10)) { near.hit() }
        try await eventually { near.value > 0 }
        #expect(near.value == 1)
        #expect(far.value == 0)
        deadlines.remove(later)
    }
}
