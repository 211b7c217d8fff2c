import Foundation
import StrataMessageCore
import Testing

/// The long poll's wake-ups: a message that arrives while the poll is
/// checking (after its check found nothing, before it parks) must end the
/// wait that follows, not leave it to the next tick (the backends' tick is
/// 50 ms; here it is an hour, so a lost wake-up cannot pass for a tick).
@Suite struct ArrivalSignalTests {
    /// Ends `body`'s task after 60 s: nil then.
    private static func within60s<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T? {
        try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await body() }
            group.addTask {
                try await Task.sleep(for: .seconds(60))
                return nil
            }
            let first = try await group.next() ?? nil
            group.cancelAll()
            return first
        }
    }

    @Test func anArrivalDuringTheCheckEndsTheWaitThatFollows() async throws {
        let signal = ArrivalSignal()
        let tries = Locked2(0)
        let got = try await Self.within60s {
            try await longPoll(maxWait: .seconds(3600), signal: { signal }, tick: .seconds(3600)) { () async throws -> [Int] in
                let n = tries.with { t -> Int in t += 1; return t }
                if n == 1 {
                    // Nothing yet; the message lands before the poll parks.
                    signal.signal()
                    return []
                }
                return [n]
            }
        }
        #expect(got == [2], "the arrival during the first check was lost: the poll waited for its tick")
    }

    @Test func aSignalBeforeTheWaitIsKeptForItsTicket() async throws {
        let signal = ArrivalSignal()
        let ticket = signal.ticket()
        signal.signal()
        let woke = try await Self.within60s { try await signal.wait(ticket: ticket, timeout: .seconds(3600)); return true }
        #expect(woke == true)
        // A ticket taken after the signal waits for the next one: this
        // wait ends at its timeout.
        try await signal.wait(timeout: .milliseconds(1))
    }

    @Test func aCancelledWaitEndsAtOnce() async throws {
        let signal = ArrivalSignal()
        let ticket = signal.ticket()
        let waiter = Task { try await signal.wait(ticket: ticket, timeout: .seconds(3600)) }
        waiter.cancel()
        await #expect(throws: CancellationError.self) { try await waiter.value }
    }

    /// One message wakes one waiter, not every one (64 idle consumers each
    /// tried and parked again per add before); `signal()` still wakes all.
    @Test func aCountedSignalWakesThatManyParkedWaiters() async throws {
        let signal = ArrivalSignal()
        let woken = Locked2(0)
        let waiters = (0..<4).map { _ in
            Task {
                try await signal.wait(timeout: .seconds(3600))
                woken.with { $0 += 1 }
            }
        }
        defer { for w in waiters { w.cancel() } }
        // A waiter that has not parked when a signal comes does not park (it
        // checks again), so the count is exact only for parked ones.
        #expect(try await eventually(60) { signal.parkedCount == 4 })
        signal.signal(count: 1)
        #expect(try await eventually(60) { woken.with { $0 } >= 1 })
        signal.signal(count: 2)
        #expect(try await eventually(60) { woken.with { $0 } >= 3 })
        // Nothing else wakes them (their timeout is an hour): still three.
        try await Task.sleep(for: .milliseconds(100))
        #expect(woken.with { $0 } == 3)
        #expect(signal.parkedCount == 1)
        signal.signal()
        #expect(try await eventually(60) { woken.with { $0 } == 4 })
    }

    /// A signal whose count went to a parked waiter still ends the wait of a
    /// waiter that was checking when it came (its ticket is older than the
    /// signal): that one may be the only one left to take the message.
    @Test func aWaiterCheckingDuringACountedSignalDoesNotPark() async throws {
        let signal = ArrivalSignal()
        let first = Task { try await signal.wait(timeout: .seconds(3600)) }
        defer { first.cancel() }
        #expect(try await eventually(60) { signal.parkedCount == 1 })
        let checking = signal.ticket()
        signal.signal(count: 1)  // wakes `first`
        let woke = try await Self.within60s { try await signal.wait(ticket: checking, timeout: .seconds(3600)); return true }
        #expect(woke == true, "a waiter checking during the signal slept through it")
        try await first.value
    }

    /// Waits that time out or are cancelled leave nothing behind for later
    /// signals to visit.
    @Test func timedOutWaitersAreForgotten() async throws {
        let signal = ArrivalSignal()
        for _ in 0..<300 { try await signal.wait(timeout: .milliseconds(1)) }
        #expect(signal.parkedCount == 0)
        let waiter = Task { try await signal.wait(timeout: .seconds(3600)) }
        #expect(try await eventually(60) { signal.parkedCount == 1 })
        signal.signal(count: 1)
        try await waiter.value
        #expect(signal.parkedCount == 0)
    }
}
