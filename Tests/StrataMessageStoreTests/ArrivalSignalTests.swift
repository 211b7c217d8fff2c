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
}
