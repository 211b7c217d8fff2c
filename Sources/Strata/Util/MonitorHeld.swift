/// Proof that the calling thread holds a `Monitor`'s lock: LevelDB's
/// `EXCLUSIVE_LOCKS_REQUIRED(mu)`, checked by the type system instead of
/// a comment.
///
/// Only `Monitor.withHeld` makes one, and hands it to its body `borrowing`.
/// Being `~Copyable` and borrowed, it cannot be stored, returned, captured
/// by an escaping closure or outlive the critical section, so a function
/// that takes `_ held: borrowing MonitorHeld` cannot be called by code that
/// has not taken the lock. The lock's two ways of letting go for a while
/// are methods of the token: `unlocked { … }` for I/O and other slow work,
/// `wait()` for condition waits; both return with the lock held again, so
/// the token stays true. Guarded state read before either call may have
/// changed after it.
struct MonitorHeld: ~Copyable {
    fileprivate let monitor: Monitor

    fileprivate init(_ monitor: Monitor) { self.monitor = monitor }

    /// Runs `body` with the lock released (disk or network work, sleeping,
    /// parking) and takes it again before returning.
    @inline(__always)
    func unlocked<R>(_ body: () throws -> R) rethrows -> R {
        monitor.unlock()
        defer { monitor.lock() }
        return try body()
    }

    /// Sleeps until the monitor's `broadcast()` (or a spurious wake-up).
    @inline(__always)
    func wait() { monitor.wait() }

    /// Sleeps until a broadcast or until `nanoseconds` pass.
    @inline(__always)
    func wait(nanoseconds: UInt64) { monitor.wait(nanoseconds: nanoseconds) }

    /// Sleeps on `condition` (not the monitor's own) until it is signalled
    /// or `nanoseconds` pass.
    @inline(__always)
    func wait(on condition: MonitorCondition, nanoseconds: UInt64) {
        monitor.wait(on: condition, nanoseconds: nanoseconds)
    }

    /// Wakes every thread waiting on the monitor's own condition.
    @inline(__always)
    func broadcast() { monitor.broadcast() }

    /// Whether this token proves `other` is held (tokens of two monitors
    /// are the same type).
    func isFor(_ other: Monitor) -> Bool { monitor === other }
}

extension Monitor {
    /// Takes the lock, runs `body` with the proof and releases the lock.
    @inline(__always)
    func withHeld<R>(_ body: (borrowing MonitorHeld) throws -> R) rethrows -> R {
        lock()
        defer { unlock() }
        let held = MonitorHeld(self)
        return try body(held)
    }
}
