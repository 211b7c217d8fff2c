import StrataMessageCore

/// The deadlines of calls waiting for a pooled connection, watched by one
/// task for the whole process instead of a timer per call. A sleeping
/// timer task and the task group that raced it cost about a tenth of the
/// client's CPU per statement at 64 clients (perf, Docs/benchmarks.md);
/// here a call pays a dictionary insert and remove under a lock.
///
/// The watcher runs only while some call waits or runs, waking every
/// `tick`; a deadline fires at most one tick late, which is nothing
/// against the seconds a connection wait is given.
final class LeaseDeadlines: Sendable {
    static let shared = LeaseDeadlines()

    private struct Wait {
        let deadline: ContinuousClock.Instant
        let expire: @Sendable () -> Void
    }
    private struct State {
        var nextID: UInt64 = 0
        var waits: [UInt64: Wait] = [:]
        var watching = false
    }
    private let state = StoreLock(State())
    private let tick: Duration

    init(tick: Duration = .milliseconds(50)) { self.tick = tick }

    /// Calls `expire` (once, from the watcher) unless `remove` comes first
    /// after `deadline`.
    func register(deadline: ContinuousClock.Instant, expire: @escaping @Sendable () -> Void) -> UInt64 {
        let (id, start) = state.withLock { s -> (UInt64, Bool) in
            s.nextID &+= 1
            s.waits[s.nextID] = Wait(deadline: deadline, expire: expire)
            let start = !s.watching
            s.watching = true
            return (s.nextID, start)
        }
        if start { Task.detached { [self] in await watch() } }
        return id
    }

    func remove(_ id: UInt64) {
        _ = state.withLock { $0.waits.removeValue(forKey: id) }
    }

    private func watch() async {
        while true {
            try? await Task.sleep(for: tick)
            let now = ContinuousClock.now
            let expired = state.withLock { s -> [Wait]? in
                if s.waits.isEmpty {
                    s.watching = false
                    return nil
                }
                let due = s.waits.filter { $0.value.deadline <= now }
                for id in due.keys { s.waits.removeValue(forKey: id) }
                return Array(due.values)
            }
            guard let expired else { return }
            for w in expired { w.expire() }
        }
    }
}
