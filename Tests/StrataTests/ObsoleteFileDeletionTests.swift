import Synchronization
import Testing
@testable import Strata

/// Obsolete files (tables after a compaction, logs after a flush) are
/// chosen with the database mutex held, from a directory listing taken and
/// unlinked with it released, so writers never queue behind file-system
/// calls; the rule keeps whatever a reopen or a running job may need.
@Suite(.offCooperativePool) struct ObsoleteFileDeletionTests {
    @Test func listingsAndUnlinksRunWithTheMutexReleased() throws {
        let fs = FaultInjectionFileSystem()
        var o = Options()
        o.fileSystem = fs
        o.logger.logLevel = .warning
        o.writeBufferSize = 8 << 10
        let db = try Database.open(at: "/obsolete", options: o)
        let removes = Atomic<Int>(0)
        let underLock = Atomic<Int>(0)
        let listings = Atomic<Int>(0)
        let listingsUnderLock = Atomic<Int>(0)
        let core = db.core
        fs.addHook([.remove], pathContains: "/obsolete/") { _, path in
            guard path.hasSuffix(".sst") || path.hasSuffix(".log") || path.contains("MANIFEST") else { return }
            removes.add(1, ordering: .relaxed)
            if core.mu.isHeldByCurrentThread { underLock.add(1, ordering: .relaxed) }
        }
        // A directory listing is a read of the directory's own path.
        fs.addHook([.read], pathContains: "/obsolete") { _, path in
            guard path == "/obsolete" else { return }
            listings.add(1, ordering: .relaxed)
            if core.mu.isHeldByCurrentThread { listingsUnderLock.add(1, ordering: .relaxed) }
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
        #expect(listings.load(ordering: .relaxed) > 5, "no sweep listed the directory: the test exercises nothing")
        #expect(listingsUnderLock.load(ordering: .relaxed) == 0, "the directory was listed while holding mu")
        // Nothing obsolete is left behind.
        let names = try fs.listDirectory(at: "/obsolete")
        #expect(names.filter { $0.hasPrefix("MANIFEST-") }.count == 1, "\(names)")
    }

    /// The rule alone: what is live, being written, still needed by a
    /// family or named by CURRENT (or possibly about to be) stays.
    @Test func theRuleKeepsWhatMayStillBeNeeded() {
        let keep = ObsoleteFiles.Keep(liveTables: [10], pendingTables: [11], minLog: 20, manifest: 30)
        let listing = ["CURRENT", "LOCK", "LOG", "notes.txt",
                       "000010.sst", "000011.sst", "000012.sst",
                       "000019.log", "000020.log", "000021.log",
                       "MANIFEST-000029", "MANIFEST-000030", "MANIFEST-000031",
                       "000031.dbtmp"]
        let found = ObsoleteFiles(listing: listing, keeping: keep)
        #expect(Set(found.names) == ["000012.sst", "000019.log", "MANIFEST-000029", "000031.dbtmp"])
        #expect(found.tables == [12])
        #expect(ObsoleteFiles(listing: ["000012.sst"], keeping: ObsoleteFiles.Keep(pendingTables: [12])).isEmpty,
                "a table being written is kept though no version lists it")
    }

    /// A MANIFEST switch that fails after CURRENT was renamed to name the
    /// new MANIFEST (the directory sync after the rename fails) leaves
    /// CURRENT naming the new file while `manifestFileNumber` still names
    /// the old one, and after a power loss CURRENT may name the old one
    /// again. A sweep must keep both, or the next open finds CURRENT naming
    /// a deleted file.
    @Test(arguments: [false, true]) func aFailedManifestSwitchKeepsBothManifests(powerLoss: Bool) throws {
        let fs = FaultInjectionFileSystem()
        var o = Options()
        o.fileSystem = fs
        o.logger.logLevel = .critical  // the injected failure is logged as an error
        o.maxManifestFileSize = 1  // every MANIFEST write starts a new MANIFEST
        let dir = "/failed-switch"
        let db = try Database.open(at: dir, options: o)
        try db.put(utf8("k"), utf8("v"))
        try db.flush()
        #expect(db.core.waitForBackgroundWork())
        let before = try fs.listDirectory(at: dir).filter { $0.hasPrefix("MANIFEST-") }
        #expect(before.count == 1, "\(before)")

        // The next switch: its directory sync after CURRENT's rename fails, once.
        let armed = Atomic<Bool>(true)
        fs.addHook([.rename], pathContains: ".dbtmp") { _, _ in
            if armed.exchange(false, ordering: .relaxed) {
                fs.inject(FaultRule([.syncDirectory], trigger: .onCall(1)))
            }
        }
        #expect(throws: StrataError.self) { _ = try db.createColumnFamily("x") }
        let reachedRename = !armed.load(ordering: .relaxed)
        #expect(reachedRename, "no MANIFEST switch reached CURRENT's rename")
        let core = db.core
        core.mu.withHeld { core.deleteObsoleteFiles($0) }
        let after = try fs.listDirectory(at: dir).filter { $0.hasPrefix("MANIFEST-") }
        #expect(after.count == 2, "the old MANIFEST and the one CURRENT may name are both kept: \(after)")

        try? db.close()
        fs.removeHooks()
        fs.clearFaults()
        if powerLoss {
            try fs.simulatePowerLoss()
        }
        let reopened = try Database.open(at: dir, options: o)
        #expect(try reopened.get(utf8("k")) == utf8("v"))
        try reopened.close()
    }

    /// A family dropped while its memtable is being flushed: the table the
    /// flush wrote is an orphan, and it is gone once the background work
    /// settles, not left for the next open. (The flush releases it from the
    /// protected set before its own sweep; a later sweep would also catch it,
    /// so this checks the outcome, not which sweep.)
    @Test func aFlushWhoseFamilyWasDroppedDeletesItsTable() throws {
        let fs = FaultInjectionFileSystem()
        var o = Options()
        o.fileSystem = fs
        o.logger.logLevel = .critical
        o.writeBufferSize = 4 << 10
        let dir = "/dropped-while-flushing"
        let db = try Database.open(at: dir, options: o)
        var small = ColumnFamilyOptions()
        small.writeBufferSize = 4 << 10
        let family = try db.createColumnFamily("doomed", options: small)
        let dropped = Atomic<Bool>(false)
        // On the flush thread, with the mutex released, once its table is written.
        fs.addHook([.sync], pathContains: ".sst") { _, _ in
            if !dropped.exchange(true, ordering: .relaxed) { try? db.dropColumnFamily(family) }
        }
        var i = 0
        while !dropped.load(ordering: .relaxed) && i < 10_000 {
            do {
                try db.put(utf8("k\(i)"), [UInt8](repeating: 7, count: 100), in: family)
            } catch {
                let afterDrop = dropped.load(ordering: .relaxed)
                #expect(afterDrop, "a write failed before the drop: \(error)")
                break
            }
            i += 1
        }
        let sawDrop = dropped.load(ordering: .relaxed)
        #expect(sawDrop, "no flush of the family started")
        #expect(db.core.waitForBackgroundWork())
        fs.removeHooks()
        let tables = try fs.listDirectory(at: dir).filter { $0.hasSuffix(".sst") }
        #expect(tables.isEmpty, "the dropped family's flushed table is left behind: \(tables)")
        try db.close()
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
