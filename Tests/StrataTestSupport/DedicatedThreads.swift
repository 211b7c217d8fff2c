import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Threads of their own for work that may block or spin: a job (a task's
/// slice or a closure) runs on an idle thread of this pool, and when every
/// thread is busy a new one is started, so no job ever waits behind a
/// blocked one. Idle threads end after ten seconds.
///
/// Why not `DispatchQueue.global()`: on Linux Swift's cooperative pool is a
/// dispatch queue of width "one per core" that *targets the same global
/// root queue*, so the two share worker threads. Dispatch adds a worker
/// only when the running ones are blocked in the kernel; jobs that keep
/// their thread runnable (a synchronous engine test computing, a long
/// `SortedModel` loop) hold the root queue's workers, and the cooperative
/// pool's own drain waits behind them: every async test of the process
/// stops while the pool looks idle (no thread in a Swift job). This pool
/// shares nothing with dispatch.
public final class DedicatedThreads: TaskExecutor, @unchecked Sendable {  // all state under `mutex`
    /// The pool the tests share.
    public static let shared = DedicatedThreads()

    private enum Work {
        case job(UnownedJob)
        case block(@Sendable () -> Void)
    }
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let wake = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var queued: [Work] = []
    private var head = 0
    /// Threads waiting for work.
    private var idle = 0
    private let idleTimeout: TimeInterval = 10

    /// An empty pool; threads start on demand.
    public init() {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(wake, nil)
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        submit(.job(UnownedJob(job)))
    }

    /// Runs `block` on a thread of the pool.
    public func run(_ block: @escaping @Sendable () -> Void) {
        submit(.block(block))
    }

    /// Runs `block` on a thread of the pool inside `group` (entered now,
    /// left when `block` returns), like `DispatchQueue.async(group:)`.
    public func run(in group: DispatchGroup, _ block: @escaping @Sendable () -> Void) {
        group.enter()
        run {
            block()
            group.leave()
        }
    }

    private func submit(_ work: Work) {
        pthread_mutex_lock(mutex)
        queued.append(work)
        // Every queued job has a waiting thread, or gets a new one.
        let start = queued.count - head > idle
        if !start { pthread_cond_signal(wake) }
        pthread_mutex_unlock(mutex)
        if start {
            let t = Thread { [self] in workLoop() }
            t.stackSize = 8 << 20
            t.name = "strata-test-dedicated"
            t.start()
        }
    }

    private func workLoop() {
        while let work = next() {
            switch work {
            case .job(let job): job.runSynchronously(on: asUnownedTaskExecutor())
            case .block(let block): block()
            }
        }
    }

    /// The next work item; nil when the thread has waited `idleTimeout` for none.
    private func next() -> Work? {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        while head == queued.count {
            idle += 1
            var deadline = timespec()
            clock_gettime(CLOCK_REALTIME, &deadline)
            deadline.tv_sec += Int(idleTimeout)
            let rc = pthread_cond_timedwait(wake, mutex, &deadline)
            idle -= 1
            if rc == ETIMEDOUT, head == queued.count { return nil }
        }
        let work = queued[head]
        head += 1
        if head > 1024, head * 2 > queued.count {
            queued.removeFirst(head)
            head = 0
        }
        return work
    }
}
