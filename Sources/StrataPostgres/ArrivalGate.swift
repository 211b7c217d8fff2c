import StrataMessageCore

/// Where long-polling receivers of one store wait for their queue: the
/// store's notification listener opens the gate of a queue when PostgreSQL
/// reports an add or an abandon there (from any process). A waiter takes a
/// ticket before it looks at the queue and waits with it, so an arrival
/// between the look and the wait is not missed; it resumes exactly once —
/// on an arrival, on its timeout, or at once when its task is cancelled.
final class ArrivalGate: Sendable {
    private struct Waiter {
        var queue: String
        var continuation: CheckedContinuation<Void, Never>?
        var fired = false
    }
    private struct State {
        var generation: [String: UInt64] = [:]
        var everything: UInt64 = 0
        var next: UInt64 = 0
        var waiters: [UInt64: Waiter] = [:]
    }
    private let state = StoreLock(State())

    /// What a waiter saw before it looked at `queue`.
    struct Ticket: Sendable {
        var queue: String
        var generation: UInt64
        var everything: UInt64
    }

    func ticket(_ queue: String) -> Ticket {
        state.withLock { Ticket(queue: queue, generation: $0.generation[queue] ?? 0, everything: $0.everything) }
    }

    /// Wakes the waiters of `queue` — at most `limit` of the parked ones
    /// (the longest waiting first), so that one message does not send every
    /// idle consumer to the database; a waiter about to park looks again
    /// whatever the limit.
    func open(_ queue: String, limit: Int = .max) {
        let woken = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            s.generation[queue, default: 0] &+= 1
            var out: [CheckedContinuation<Void, Never>] = []
            for id in s.waiters.keys.sorted() {
                guard let w = s.waiters[id], w.queue == queue else { continue }
                guard let c = w.continuation else {
                    s.waiters[id]?.fired = true  // registered, not parked yet: it must not park
                    continue
                }
                if out.count < limit {
                    out.append(c)
                    s.waiters[id] = nil
                }
            }
            return out
        }
        for c in woken { c.resume() }
    }

    /// Wakes every waiter (reconnection, close).
    func openAll() {
        let woken = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            s.everything &+= 1
            return take(&s) { _ in true }
        }
        for c in woken { c.resume() }
    }

    private func take(_ s: inout State, _ matches: (Waiter) -> Bool) -> [CheckedContinuation<Void, Never>] {
        var out: [CheckedContinuation<Void, Never>] = []
        for (id, w) in s.waiters where matches(w) {
            if let c = w.continuation {
                out.append(c)
                s.waiters[id] = nil
            } else {
                s.waiters[id]?.fired = true
            }
        }
        return out
    }

    private func fire(_ id: UInt64) {
        let c = state.withLock { s -> CheckedContinuation<Void, Never>? in
            guard let w = s.waiters[id] else { return nil }
            if let c = w.continuation {
                s.waiters[id] = nil
                return c
            }
            s.waiters[id]?.fired = true
            return nil
        }
        c?.resume()
    }

    /// Returns when `ticket`'s queue has had an arrival since the ticket was
    /// taken, after `timeout`, or (throwing `CancellationError`) when the task
    /// is cancelled.
    func wait(_ ticket: Ticket, timeout: Duration) async throws {
        try Task.checkCancellation()
        let id: UInt64? = state.withLock { s in
            if (s.generation[ticket.queue] ?? 0) != ticket.generation || s.everything != ticket.everything { return nil }
            s.next += 1
            s.waiters[s.next] = Waiter(queue: ticket.queue)
            return s.next
        }
        guard let id else { return }
        let timer = Task {
            do { try await Task.sleep(for: timeout) } catch { return }
            self.fire(id)
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let now = state.withLock { s -> Bool in
                    guard let w = s.waiters[id], !w.fired else {
                        s.waiters[id] = nil
                        return true
                    }
                    s.waiters[id]?.continuation = c
                    return false
                }
                if now { c.resume() }
            }
        } onCancel: {
            self.fire(id)
        }
        timer.cancel()
        try Task.checkCancellation()
    }
}
