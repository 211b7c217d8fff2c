import Testing
import StrataStress
@testable import Strata

/// Short runs of the crash-test driver (the long ones are `make crash-test`).
@Suite(.offCooperativePool) struct StressTests {
    @Test(arguments: [1, 2])
    func powerLossLoopKeepsEverySyncedWrite(compactionThreads: Int) {
        var config = StressConfig()
        config.maxBackgroundCompactions = compactionThreads
        config.workers = 3
        config.keysPerWorker = 60
        config.seed = 11
        #expect(PowerLossStress(config: config).run(cycles: 15) == nil)
    }

    /// The black-box parent learns from the child's journal what each
    /// checkpoint and backup must hold and which backups must survive.
    @Test func archiveJournalTellsWhatMustSurvive() {
        let journal = "A 0 B 4 1 2\nD 0\nA 1 C /d/ckpt-3-1 5 6\nD 1\nA 2 B 5 7 8\nD 2\nP 2\nA 3 B 6 9 9\nD 3\nA 4 C /d/ckpt-3-4 9 1"
        let archives = StressArchive.load(journal: Substring(journal))
        #expect(archives.count == 4)  // the torn last line is dropped
        #expect(archives[1].checkpointPath == "/d/ckpt-3-1" && archives[1].lowest == [5, 6] && archives[1].completed)
        #expect(archives[2].backupID == 5 && archives[2].purged && !archives[0].purged)
        let archiver = StressArchiver(checkpointRoot: "/c", backupDirectory: "/b", fileSystem: InMemoryFileSystem(), cycle: 3, mustSurvive: [1, 2, 3])
        archiver.adopt(archives)
        // Backups 4 and 5 completed, then a purge kept the newest two; 6 came after.
        #expect(archiver.mustSurvive == [4, 5, 6])
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
