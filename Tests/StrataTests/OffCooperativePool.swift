import Dispatch
import Testing

/// Runs each test of a suite on dispatch threads instead of Swift's
/// cooperative pool. The engine's synchronous API blocks by design (fsync,
/// waits for a flush, a compaction or a group commit), and Swift Testing
/// runs synchronous test functions on the cooperative pool, which has one
/// thread per core: on a 2-core machine two engine tests held the whole
/// pool for minutes, and every async test of the process (the message
/// store's consumer tests first) made no progress meanwhile. Dispatch adds
/// threads when its workers block; the cooperative pool never does.
struct OffCooperativePool: SuiteTrait, TestTrait, TestScoping {
    var isRecursive: Bool { true }

    func provideScope(for test: Test, testCase: Test.Case?,
                      performing function: @Sendable () async throws -> Void) async throws {
        guard testCase != nil else { return try await function() }
        try await withTaskExecutorPreference(BlockingTestExecutor.shared) { try await function() }
    }
}

extension Trait where Self == OffCooperativePool {
    /// The suite's tests may block their thread: run them off the cooperative pool.
    static var offCooperativePool: Self { OffCooperativePool() }
}

/// A task executor whose jobs run on the global dispatch queue.
final class BlockingTestExecutor: TaskExecutor {
    static let shared = BlockingTestExecutor()

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        DispatchQueue.global().async { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
