import StrataTestSupport
import Testing

/// Runs each test of a suite on threads of its own (`DedicatedThreads`)
/// instead of Swift's cooperative pool. The engine's synchronous API
/// blocks by design (fsync, waits for a flush, a compaction or a group
/// commit) and computes for long stretches, and Swift Testing
/// runs synchronous test functions on the cooperative pool, which has one
/// thread per core: on a 2-core machine two engine tests held the whole
/// pool for minutes, and every async test of the process (the message
/// store's consumer tests first) made no progress meanwhile. Not dispatch
/// threads either: on Linux the cooperative pool drains on dispatch's
/// global root queue, so jobs there that keep their thread busy take the
/// pool's threads too (OffCooperativePoolTests shows it).
struct OffCooperativePool: SuiteTrait, TestTrait, TestScoping {
    /// Where the suites' tests run.
    static let executor: any TaskExecutor = DedicatedThreads.shared
    var isRecursive: Bool { true }

    func provideScope(for test: Test, testCase: Test.Case?,
                      performing function: @Sendable () async throws -> Void) async throws {
        guard testCase != nil else { return try await function() }
        try await withTaskExecutorPreference(Self.executor) { try await function() }
    }
}

extension Trait where Self == OffCooperativePool {
    /// The suite's tests may block their thread: run them off the cooperative pool.
    static var offCooperativePool: Self { OffCooperativePool() }
}
