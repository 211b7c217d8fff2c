#if canImport(Glibc)
import Glibc
#endif

/// A value behind a pthread mutex, shaped like `Synchronization.Mutex`
/// (`withLock`). The message modules use it instead of `Mutex`, whose Linux
/// futex implementation ThreadSanitizer cannot see (every access would be
/// reported as a race and hide the real ones). `@unchecked Sendable`:
/// `value` is only touched while the mutex is held.
package final class StoreLock<Value>: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var value: Value

    /// Wraps `value`.
    package init(_ value: Value) {
        self.value = value
        mutex = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// Runs `body` with exclusive access to the value.
    @inline(__always)
    package func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}
