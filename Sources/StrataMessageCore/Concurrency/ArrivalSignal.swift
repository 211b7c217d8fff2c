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

    /// Gives back a ticket that will not be waited on; true if a wake-up
    /// had already been handed to it (`passOn` gives that one to another).
    @discardableResult
    package func discard(_ id: UInt64) -> Bool {
        if case .fired = state.withLock({ $0.slots.removeValue(forKey: id) }) { return true }
        return false
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
    package func signal() { signal(count: .max) }

    /// Wakes at most `count` waiters, one per message that arrived: parked
    /// ones first, then ones still checking (their next wait returns at
    /// once). Waking every waiter for every message made 64 idle consumers
    /// try, fail and park again 63 times per add; a waiter that is woken and
    /// finds nothing for it parks again, and one that was woken but took
    /// other messages passes its wake-up on (`longPoll`), so no message waits
    /// for a tick while a waiter sleeps.
    package func signal(count: Int) {
        guard count > 0 else { return }
        let parked = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            guard !s.slots.isEmpty else { return [] }
            var out: [CheckedContinuation<Void, Never>] = []
            var left = count
            for (id, slot) in s.slots {
                guard left > 0 else { break }
                if case .parked(let c) = slot {
                    out.append(c)
                    s.slots[id] = nil
                    left -= 1
                }
            }
            if left > 0 {
                for (id, slot) in s.slots {
                    guard left > 0 else { break }
                    if case .starting = slot {
                        s.slots[id] = .fired
                        left -= 1
                    }
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
            // A wake-up this try did not need goes to another waiter.
            if arrivals.discard(ticket) { arrivals.signal(count: 1) }
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

    /// Wakes, for each occurrence of a queue in `queues` (one per message
    /// that arrived), one of its waiters (no-op for queues nobody has waited
    /// on).
    package func wake(_ queues: some Sequence<String>) {
        var counts = ArrivalCounts()
        for q in queues { counts.insert(q) }
        wake(counts)
    }

    /// Wakes, per queue, as many waiters as `arrived` counts messages.
    package func wake(_ arrived: ArrivalCounts) {
        guard !arrived.isEmpty else { return }
        let hit = signals.withLock { map in arrived.counts.compactMap { q, n in map[q].map { ($0, n) } } }
        for (s, n) in hit { s.signal(count: n) }
    }
}

/// Messages that became deliverable, per queue, under one lock of a store
/// (its long polls are woken after the lock is released, one per message).
package struct ArrivalCounts: Sendable, ExpressibleByArrayLiteral {
    package private(set) var counts: [String: Int] = [:]
    package init() {}
    package init(arrayLiteral queues: String...) { for q in queues { insert(q) } }
    package var isEmpty: Bool { counts.isEmpty }
    /// One more message in `queue`.
    package mutating func insert(_ queue: String) { counts[queue, default: 0] += 1 }
}
