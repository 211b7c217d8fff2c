/// Wakes long-polling receivers when a message arrives (or is unlocked) in a
/// queue, so `receive(…maxWait:)` neither polls nor outlives its task: each
/// waiter resumes exactly once — on `signal()`, on its timeout, or at once
/// when its task is cancelled — and a signal, timeout or cancellation that
/// comes before the waiter has parked is remembered in its slot.
package final class ArrivalSignal: Sendable {
    private enum Slot {
        case starting
        case parked(CheckedContinuation<Void, Never>)
        case fired
    }
    private struct State {
        var next: UInt64 = 0
        var slots: [UInt64: Slot] = [:]
    }
    private let state = StoreLock(State())

    /// A signal nobody waits on yet.
    package init() {}

    /// Suspends until the next `signal()`, until `timeout` passes or until
    /// the task is cancelled (then it throws `CancellationError`).
    package func wait(timeout: Duration) async throws {
        try await wait(ticket: ticket(), timeout: timeout)
    }

    /// A place in line taken before the check a waiter then waits after: a
    /// `signal()` between the two is kept for `wait(ticket:timeout:)`, which
    /// returns at once then. Every ticket is waited on or `discard`ed.
    package func ticket() -> UInt64 {
        state.withLock { s -> UInt64 in
            s.next += 1
            s.slots[s.next] = .starting
            return s.next
        }
    }

    /// Gives back a ticket that will not be waited on.
    package func discard(_ id: UInt64) {
        _ = state.withLock { $0.slots.removeValue(forKey: id) }
    }

    /// `wait(timeout:)` on a ticket taken earlier.
    package func wait(ticket id: UInt64, timeout: Duration) async throws {
        if Task.isCancelled {
            discard(id)
            throw CancellationError()
        }
        let timer = Task {
            do { try await Task.sleep(for: timeout) } catch { return }
            self.fire(id)
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { s -> Bool in
                    if case .fired = s.slots[id] {
                        s.slots[id] = nil
                        return true
                    }
                    s.slots[id] = .parked(c)
                    return false
                }
                if resumeNow { c.resume() }
            }
        } onCancel: {
            self.fire(id)
        }
        timer.cancel()
        try Task.checkCancellation()
    }

    private func fire(_ id: UInt64) {
        let c = state.withLock { s -> CheckedContinuation<Void, Never>? in
            switch s.slots[id] {
            case .parked(let c):
                s.slots[id] = nil
                return c
            case .starting:
                s.slots[id] = .fired
                return nil
            case .fired, nil:
                return nil
            }
        }
        c?.resume()
    }

    /// Wakes every waiter.
    package func signal() {
        let parked = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            guard !s.slots.isEmpty else { return [] }
            var out: [CheckedContinuation<Void, Never>] = []
            for (id, slot) in s.slots {
                switch slot {
                case .parked(let c):
                    out.append(c)
                    s.slots[id] = nil
                case .starting:
                    s.slots[id] = .fired
                case .fired:
                    break
                }
            }
            return out
        }
        for c in parked { c.resume() }
    }
}

/// Long polling on top of a non-waiting receive: tries, and while nothing is
/// deliverable waits on `signal` (woken by arrivals) for at most `tick`
/// (lock expiries and schedules send no signal) until `maxWait` has passed.
/// Cancellation ends the wait at once with `CancellationError`. The ticket
/// is taken before each try, so an arrival during the try ends the wait
/// that follows at once instead of at the next tick.
package func longPoll<T>(maxWait: Duration, signal: () throws -> ArrivalSignal, tick: Duration = .milliseconds(50),
                         _ attempt: () async throws -> [T]) async throws -> [T] {
    let deadline = ContinuousClock.now + maxWait
    while true {
        try Task.checkCancellation()
        let arrivals = try signal()
        let ticket = arrivals.ticket()
        let got: [T]
        do { got = try await attempt() } catch {
            arrivals.discard(ticket)
            throw error
        }
        let now = ContinuousClock.now
        if !got.isEmpty || now >= deadline {
            arrivals.discard(ticket)
            return got
        }
        try await arrivals.wait(ticket: ticket, timeout: min(deadline - now, tick))
    }
}

/// One `ArrivalSignal` per queue name, created on first use.
package final class QueueSignals: Sendable {
    private let signals = StoreLock<[String: ArrivalSignal]>([:])

    /// No signals yet.
    package init() {}

    /// The signal long polls of `queue` wait on.
    package func signal(for queue: String) -> ArrivalSignal {
        signals.withLock { map in
            if let s = map[queue] { return s }
            let s = ArrivalSignal()
            map[queue] = s
            return s
        }
    }

    /// Wakes the waiters of every queue in `queues` (no-op for queues nobody
    /// has waited on).
    package func wake(_ queues: some Sequence<String>) {
        let hit = signals.withLock { map in Set(queues).compactMap { map[$0] } }
        for s in hit { s.signal() }
    }
}
