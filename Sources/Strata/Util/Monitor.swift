import Glibc
import Synchronization

/// A mutex with one condition variable (pthread), for the places where a
/// thread must sleep until shared state changes: writers waiting for the
/// commit leader, the flush thread waiting for work, writers waiting for a
/// flush to make room. `Synchronization.Mutex` has no condition variable.
///
/// `@unchecked Sendable`: the pthread objects are designed for concurrent use
/// and are only touched through pthread calls.
final class Monitor: @unchecked Sendable {
    fileprivate let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let cond: UnsafeMutablePointer<pthread_cond_t>

    init() {
        mutex = .allocate(capacity: 1)
        cond = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        var attr = pthread_condattr_t()
        pthread_condattr_init(&attr)
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC)
        pthread_cond_init(cond, &attr)
        pthread_condattr_destroy(&attr)
    }

    deinit {
        pthread_cond_destroy(cond)
        pthread_mutex_destroy(mutex)
        cond.deallocate()
        mutex.deallocate()
    }

    #if DEBUG
    /// The thread holding the lock (0 = none), kept in debug builds only so
    /// tests can check that I/O happens with the lock released.
    private let owner = Atomic<UInt>(0)
    @inline(__always) private func setOwner() { owner.store(UInt(pthread_self()), ordering: .relaxed) }
    @inline(__always) private func clearOwner() { owner.store(0, ordering: .relaxed) }

    /// Whether the calling thread holds the lock (debug builds only).
    var isHeldByCurrentThread: Bool { owner.load(ordering: .relaxed) == UInt(pthread_self()) }
    #else
    @inline(__always) private func setOwner() {}
    @inline(__always) private func clearOwner() {}
    #endif

    @inline(__always) func lock() {
        pthread_mutex_lock(mutex)
        setOwner()
    }

    @inline(__always) func unlock() {
        clearOwner()
        pthread_mutex_unlock(mutex)
    }

    /// Waits for a broadcast; the caller holds the lock.
    func wait() {
        clearOwner()
        pthread_cond_wait(cond, mutex)
        setOwner()
    }

    /// Waits for a broadcast or until `nanoseconds` pass; the caller holds the lock.
    func wait(nanoseconds: UInt64) {
        clearOwner()
        timedWait(cond, mutex, nanoseconds)
        setOwner()
    }

    /// Waits on `condition` (not the monitor's own) for a signal or until
    /// `nanoseconds` pass; the caller holds the lock.
    func wait(on condition: MonitorCondition, nanoseconds: UInt64) {
        clearOwner()
        timedWait(condition.cond, mutex, nanoseconds)
        setOwner()
    }

    func broadcast() { pthread_cond_broadcast(cond) }

    @inline(__always)
    func withLock<T>(_ body: () throws -> T) rethrows -> T {
        lock()
        defer { unlock() }
        return try body()
    }
}

private func timedWait(_ cond: UnsafeMutablePointer<pthread_cond_t>, _ mutex: UnsafeMutablePointer<pthread_mutex_t>,
                       _ nanoseconds: UInt64) {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    let total = UInt64(ts.tv_nsec) + nanoseconds
    ts.tv_sec += Int(total / 1_000_000_000)
    ts.tv_nsec = Int(total % 1_000_000_000)
    pthread_cond_timedwait(cond, mutex, &ts)
}

/// A second condition variable used with a `Monitor`'s lock, for a thread
/// that must not wake on every `broadcast()` of the monitor (the write path
/// broadcasts once per commit group; the compaction thread only cares
/// about new files and requests).
final class MonitorCondition: @unchecked Sendable {
    fileprivate let cond: UnsafeMutablePointer<pthread_cond_t>

    init() {
        cond = .allocate(capacity: 1)
        var attr = pthread_condattr_t()
        pthread_condattr_init(&attr)
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC)
        pthread_cond_init(cond, &attr)
        pthread_condattr_destroy(&attr)
    }

    deinit {
        pthread_cond_destroy(cond)
        cond.deallocate()
    }

    /// Wakes the waiters; the caller should hold the monitor's lock.
    func signal() { pthread_cond_broadcast(cond) }
}

/// A one-shot wake-up for one waiting thread (a counting semaphore on a
/// pthread mutex/condition pair, cheaper to reason about than Dispatch here).
final class ThreadParker: @unchecked Sendable {
    private let monitor = Monitor()
    private var permits = 0

    func park() {
        monitor.lock()
        while permits == 0 { monitor.wait() }
        permits -= 1
        monitor.unlock()
    }

    func unpark() {
        monitor.lock()
        permits += 1
        monitor.broadcast()
        monitor.unlock()
    }
}
