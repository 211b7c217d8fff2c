/// Wakes long-polling receivers when a message arrives (or is unlocked) in a
/// queue, so `receive(…maxWait:)` neither polls nor outlives its task: each
/// waiter resumes exactly once — on a signal, on its timeout, or at once
/// when its task is cancelled.
///
/// A waiter takes a ticket before it checks the queue and waits with it
/// after the check found nothing. A signal wakes up to `count` parked
/// waiters (the longest waiting first) and bumps a generation, so every
/// waiter whose ticket is older than the signal and that has not parked yet
/// does not park: it checks again. That keeps a message from waiting for a
/// tick while someone who could take it sleeps: a waiter whose ticket is
/// newer than the signal checks after the message was visible. Tickets are
/// not stored, and a signal touches only the waiters it wakes (an earlier
/// version kept a slot per ticket and visited every one per signal, 14% of
/// the CPU of 64 consumers' round trips; Docs/benchmarks.md).
package final class ArrivalSignal: Sendable {
    private struct State {
        var next: UInt64 = 0
        /// Bumped by every signal.
        var generation: UInt64 = 0
        var parked: [UInt64: CheckedContinuation<Void, Never>] = [:]
        /// Ids in the order they parked, from `head` on; ids no longer in
        /// `parked` (timed out, cancelled) are skipped and dropped lazily.
        var order: [UInt64] = []
        var head = 0
    }
    private let state = StoreLock(State())

    /// A signal nobody waits on yet.
    package init() {}

    /// A place in line, taken before the check a waiter then waits after.
    package struct Ticket: Sendable {
        fileprivate let id: UInt64
        fileprivate let generation: UInt64
    }

    /// Suspends until the next signal, until `timeout` passes or until the
    /// task is cancelled (then it throws `CancellationError`).
    package func wait(timeout: Duration) async throws {
        try await wait(ticket: ticket(), timeout: timeout)
    }

    /// A ticket for `wait(ticket:timeout:)`: a signal after this returns
    /// ends that wait at once (or wakes it). Nothing is held: a ticket that
    /// is never waited on needs no giving back.
    package func ticket() -> Ticket {
        state.withLock { s in
            s.next += 1
            return Ticket(id: s.next, generation: s.generation)
        }
    }

    /// How many waiters are parked now (for tests).
    package var parkedCount: Int { state.withLock { $0.parked.count } }

    /// `wait(timeout:)` on a ticket taken earlier: returns at once if a
    /// signal came after the ticket was taken.
    package func wait(ticket: Ticket, timeout: Duration) async throws {
        try Task.checkCancellation()
        var timer: Task<Void, Never>?
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                // A cancellation before this check is seen here (the flag is
                // set before the handler runs); one after it finds the waiter
                // parked.
                let parks = state.withLock { s -> Bool in
                    guard s.generation == ticket.generation, !Task.isCancelled else { return false }
                    s.parked[ticket.id] = c
                    s.order.append(ticket.id)
                    if s.order.count - s.head > 2 * s.parked.count + 64 {
                        let parked = s.parked
                        s.order = s.order[s.head...].filter { parked[$0] != nil }
                        s.head = 0
                    }
                    return true
                }
                guard parks else { return c.resume() }
                // Started after parking, so its firing never comes before the park.
                timer = Task {
                    do { try await Task.sleep(for: timeout) } catch { return }
                    self.resume(ticket.id)
                }
            }
        } onCancel: {
            self.resume(ticket.id)
        }
        timer?.cancel()
        try Task.checkCancellation()
    }

    /// Ends the wait of `id` if it is parked (its timeout, its cancellation).
    private func resume(_ id: UInt64) {
        state.withLock { $0.parked.removeValue(forKey: id) }?.resume()
    }

    /// Wakes every waiter.
    package func signal() { signal(count: .max) }

    /// Wakes at most `count` parked waiters, one per message that arrived,
    /// and keeps every waiter that holds an older ticket from parking.
    package func signal(count: Int) {
        guard count > 0 else { return }
        let woken = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            s.generation &+= 1
            guard !s.parked.isEmpty else { return [] }
            var out: [CheckedContinuation<Void, Never>] = []
            while out.count < count && s.head < s.order.count {
                let id = s.order[s.head]
                s.head += 1
                if let c = s.parked.removeValue(forKey: id) { out.append(c) }
            }
            if s.head == s.order.count {
                s.order.removeAll(keepingCapacity: true)
                s.head = 0
            } else if s.head >= 64 && 2 * s.head >= s.order.count {
                s.order.removeFirst(s.head)
                s.head = 0
            }
            return out
        }
        for c in woken { c.resume() }
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
        let got = try await attempt()
        let now = ContinuousClock.now
        if !got.isEmpty || now >= deadline { return got }
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
