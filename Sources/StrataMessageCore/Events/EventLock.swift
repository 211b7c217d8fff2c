import Glibc

/// A value behind a pthread mutex for the event stores (the message modules
/// cannot see the engine's `Locked`). A pthread mutex rather than
/// `Synchronization.Mutex` because ThreadSanitizer cannot see the latter's
/// futex calls. `@unchecked Sendable`: `value` is only touched while the
/// mutex is held.
package final class EventLock<Value>: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var value: Value

    package init(_ value: Value) {
        self.value = value
        mutex = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    @inline(__always)
    package func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}
