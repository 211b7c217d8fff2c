import Synchronization
import Testing
@testable import Strata

/// Obsolete files (tables after a compaction, logs after a flush) are
/// chosen with the database mutex held and unlinked after it is released,
/// so writers never queue behind file-system deletes.
@Suite(.offCooperativePool) struct ObsoleteFileDeletionTests {
    @Test func unlinksRunWithTheMutexReleased() throws {
        let fs = FaultInjectionFileSystem()
        var o = Options()
        o.fileSystem = fs
        o.logger.logLevel = .warning
        o.writeBufferSize = 8 << 10
        let db = try Database.open(at: "/obsolete", options: o)
        let removes = Atomic<Int>(0)
        let underLock = Atomic<Int>(0)
        let core = db.core
        fs.addHook([.remove], pathContains: "/obsolete/") { _, path in
            guard path.hasSuffix(".sst") || path.hasSuffix(".log") || path.contains("MANIFEST") else { return }
            removes.add(1, ordering: .relaxed)
            if core.mu.isHeldByCurrentThread { underLock.add(1, ordering: .relaxed) }
        }
        var rng = SeededRandom(seed: TestSeed.resolve("ObsoleteFileDeletionTests", default: 11))
        for round in 0..<6 {
            for _ in 0..<300 { try db.put(utf8("k\(rng.below(2000))"), rng.bytes(40 + round)) }
            try db.flush()
        }
        try db.compactRange(nil, nil)
        #expect(db.core.waitForBackgroundWork())
        try db.close()
        #expect(removes.load(ordering: .relaxed) > 5, "nothing was deleted: the test exercises nothing")
        #expect(underLock.load(ordering: .relaxed) == 0, "files were unlinked while holding mu")
        // Nothing obsolete is left behind.
        let names = try fs.listDirectory(at: "/obsolete")
        #expect(names.filter { $0.hasPrefix("MANIFEST-") }.count == 1, "\(names)")
    }

    /// The lock-ownership probe itself: true only on the holding thread.
    @Test func mutexOwnershipProbe() {
        let m = Monitor()
        #expect(!m.isHeldByCurrentThread)
        m.lock()
        #expect(m.isHeldByCurrentThread)
        m.wait(nanoseconds: 1)
        #expect(m.isHeldByCurrentThread)
        m.unlock()
        #expect(!m.isHeldByCurrentThread)
    }
}
