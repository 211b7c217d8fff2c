import Glibc

/// A value behind a pthread mutex, with the same `withLock` shape as
/// `Synchronization.Mutex`.
///
/// Why not `Mutex`: on Linux it is built on raw futex calls that
/// ThreadSanitizer cannot see, so every `Mutex`-protected access shows up as
/// a data race under `make test-tsan` and real races drown in the noise. A
/// pthread mutex costs the same uncontended and TSan understands it.
/// `@unchecked Sendable`: `value` is only touched while `mutex` is held.
final class Locked<Value>: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var value: Value

    init(_ value: Value) {
        self.value = value
        mutex = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    @inline(__always)
    func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}
