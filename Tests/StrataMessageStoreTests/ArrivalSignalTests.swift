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
        // A discarded ticket holds nothing: a later wait times out as usual.
        signal.discard(signal.ticket())
        try await signal.wait(timeout: .milliseconds(1))
    }

    @Test func aCancelledWaitGivesBackItsTicket() async throws {
        let signal = ArrivalSignal()
        let ticket = signal.ticket()
        let waiter = Task { try await signal.wait(ticket: ticket, timeout: .seconds(3600)) }
        waiter.cancel()
        await #expect(throws: CancellationError.self) { try await waiter.value }
    }

    /// One message wakes one waiter, not every one (64 idle consumers each
    /// tried and parked again per add before); `signal()` still wakes all.
    @Test func aCountedSignalWakesThatManyWaiters() async throws {
        let signal = ArrivalSignal()
        let woken = Locked2(0)
        // Tickets are taken here, so a signal before a waiter parks is kept
        // for it and counts as its wake-up: the count is exact either way.
        let waiters = (0..<4).map { _ in
            let ticket = signal.ticket()
            return Task {
                try await signal.wait(ticket: ticket, timeout: .seconds(3600))
                woken.with { $0 += 1 }
            }
        }
        defer { for w in waiters { w.cancel() } }
        signal.signal(count: 1)
        #expect(try await eventually(60) { woken.with { $0 } >= 1 })
        signal.signal(count: 2)
        #expect(try await eventually(60) { woken.with { $0 } >= 3 })
        // Nothing else wakes them (their timeout is an hour): still three.
        try await Task.sleep(for: .milliseconds(100))
        #expect(woken.with { $0 } == 3)
        signal.signal()
        #expect(try await eventually(60) { woken.with { $0 } == 4 })
    }

    /// A poll handed a wake-up while it was checking, whose check then found
    /// messages anyway, passes the wake-up on: the other waiter must not
    /// sleep through the message it was meant for.
    @Test func aWakeUpThePollDidNotNeedGoesToAnotherWaiter() async throws {
        let signal = ArrivalSignal()
        let other = Locked2<Task<Void, any Error>?>(nil)
        let otherWoke = Locked2(false)
        let got = try await Self.within60s {
            try await longPoll(maxWait: .seconds(3600), signal: { signal }, tick: .seconds(3600)) { () async throws -> [Int] in
                signal.signal(count: 1)  // nobody is parked: the poll's own ticket gets it
                let ticket = signal.ticket()  // the other waiter, in line after that signal
                other.with {
                    $0 = Task {
                        try await signal.wait(ticket: ticket, timeout: .seconds(3600))
                        otherWoke.with { $0 = true }
                    }
                }
                return [1]
            }
        }
        defer { other.with { $0?.cancel() } }
        #expect(got == [1])
        #expect(try await eventually(60) { otherWoke.with { $0 } }, "the wake-up the poll did not use was lost")
    }
}
