import Testing
import StrataStress
@testable import Strata

/// Short runs of the crash-test driver (the long ones are `make crash-test`).
@Suite struct StressTests {
    @Test(arguments: [1, 2])
    func powerLossLoopKeepsEverySyncedWrite(compactionThreads: Int) {
        var config = StressConfig()
        config.maxBackgroundCompactions = compactionThreads
        config.workers = 3
        config.keysPerWorker = 60
        config.seed = 11
        #expect(PowerLossStress(config: config).run(cycles: 15) == nil)
    }

    @Test func prefixMatcherFindsOnlyRealPrefixes() {
        var h = WorkerHistory(worker: 0, keysPerWorker: 3, base: [nil, nil, nil])
        h.operations = [
            StressOperation(changes: [(0, [1]), (1, [1])], synced: false),
            StressOperation(changes: [(1, nil), (2, [2])], synced: true),
        ]
        #expect(h.matchingPrefix(actual: [nil, nil, nil], lowest: -1) == -1)
        #expect(h.matchingPrefix(actual: [[1], [1], nil], lowest: -1) == 0)
        #expect(h.matchingPrefix(actual: [[1], nil, [2]], lowest: 0) == 1)
        // Half of a batch is no prefix.
        #expect(h.matchingPrefix(actual: [[1], nil, nil], lowest: -1) == nil)
        // Losing a write below the guaranteed one is a failure.
        #expect(h.matchingPrefix(actual: [[1], [1], nil], lowest: 1) == nil)
    }
}
