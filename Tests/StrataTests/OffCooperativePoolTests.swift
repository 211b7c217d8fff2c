import Foundation
import StrataTestSupport
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Counters shared by the spinning jobs and the test.
private final class SpinFlags: Sendable {
    let started = Atomic<Int>(0)
    let released = Atomic<Bool>(false)
}

/// The executor the engine suites run on (`.offCooperativePool`) must never
/// hold the threads Swift's cooperative pool runs on: not even jobs that
/// keep their thread runnable without end. On Linux the cooperative pool
/// drains on dispatch's global root queue, whose workers `DispatchQueue.global()`
/// shares, and dispatch adds a worker only for blocked ones: with the old
/// dispatch-backed executor, spinning jobs left the pool no thread and
/// every async test of the process stopped (the consumer tests' stall).
/// Not `.offCooperativePool` itself: the checking task must run on the pool.
@Suite struct OffCooperativePoolTests {
    /// More spinning jobs than cores on the engine suites' executor; a task
    /// on the cooperative pool must still run to release them. The 30 s
    /// bound is on a hang (the old executor), not a timing assertion.
    ///
    /// Run alone (`STRATA_POOL_STARVATION_TEST=1 swift test --skip-build
    /// --filter OffCooperativePoolTests`): beside the whole suite its
    /// spinners compete with 400 tests for two cores and the pool task's
    /// turn depends on that load (it failed so once), which a test must not.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["STRATA_POOL_STARVATION_TEST"] != nil))
    func spinningJobsOnTheEngineExecutorLeaveTheCooperativePoolRunning() async {
        let spinners = ProcessInfo.processInfo.activeProcessorCount + 2
        let flags = SpinFlags()
        let bound = Date().addingTimeInterval(30)
        let released = await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<spinners {
                group.addTask(executorPreference: OffCooperativePool.executor) {
                    flags.started.add(1, ordering: .relaxed)
                    while !flags.released.load(ordering: .acquiring) {
                        if Date() > bound { return false }
                        sched_yield()
                    }
                    return true
                }
            }
            // This runs on the cooperative pool while they spin.
            while flags.started.load(ordering: .relaxed) < spinners, Date() < bound { await Task.yield() }
            flags.released.store(true, ordering: .releasing)
            var n = 0
            for await ok in group where ok { n += 1 }
            return n
        }
        #expect(released == spinners, "the cooperative pool got no thread while \(spinners) jobs spun on the engine suites' executor")
    }

    /// A job that waits for a later one still gets it run: the pool starts
    /// a thread whenever every one is busy.
    @Test func dedicatedThreadsGrowWhenEveryThreadWaits() async throws {
        let pool = DedicatedThreads()
        let count = 24
        let arrived = SpinFlags()
        let done = try await withThrowingTaskGroup(of: Bool.self) { group in
            for _ in 0..<count {
                group.addTask {
                    try await withCheckedThrowingContinuation { (k: CheckedContinuation<Bool, any Error>) in
                        pool.run {
                            // Each waits until all have arrived: only possible on `count` threads at once.
                            arrived.started.add(1, ordering: .relaxed)
                            let bound = Date().addingTimeInterval(30)
                            while arrived.started.load(ordering: .relaxed) < count, Date() < bound { usleep(1000) }
                            k.resume(returning: arrived.started.load(ordering: .relaxed) == count)
                        }
                    }
                }
            }
            var all = true
            for try await ok in group { all = all && ok }
            return all
        }
        #expect(done, "a job waited for one that had no thread")
    }
}
