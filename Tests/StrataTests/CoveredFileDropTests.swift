import Synchronization
import Testing
@testable import Strata

/// A compaction input wholly under a newer range tombstone is deleted by the
/// version edit without its data being read — unless a snapshot may still
/// see its entries.
@Suite(.offCooperativePool) struct CoveredFileDropTests {
    /// Reads of `path` (its table) since the last `resetCounts()`.
    static func readCount(_ fs: FaultInjectionFileSystem, _ path: String) -> Int {
        fs.operationCount([.read], pathContains: path)
    }

    static func key(_ i: Int) -> [UInt8] { utf8("k" + String(10_000 + i)) }

    @Test(arguments: [false, true])
    func coveredFilesAreDeletedUnread(holdSnapshot: Bool) throws {
        let fs = FaultInjectionFileSystem()
        var o = Options()
        o.fileSystem = fs
        o.blockCacheCapacity = 0  // every data block read reaches the file system
        o.targetFileSizeBase = 16 << 10
        o.level0FileNumCompactionTrigger = 100  // only compactRange compacts
        o.level0SlowdownWritesTrigger = 200
        o.level0StopWritesTrigger = 300
        o.logger.logLevel = .warning
        let path = "/covered"
        let db = try Database.open(at: path, options: o)
        var rng = SeededRandom(seed: 9)
        var model: [[UInt8]: [UInt8]] = [:]
        // Two overlapping flushes, so compactRange merges them into many level-1 files.
        for half in 0..<2 {
            for i in stride(from: half, to: 3000, by: 2) {
                let v = (0..<100).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                try db.put(Self.key(i), v)
                model[Self.key(i)] = v
            }
            try db.flush()
        }
        try db.compactRange(nil, nil)
        let before = db.core.versions.current(0)
        #expect(before.files[0].isEmpty && before.files[1].count >= 8, "levels: \(before.files.map(\.count))")
        // Open every table now, so the compaction finds them in the table cache.
        _ = try CompactionTests.scan(db)

        let modelBefore = model
        let snapshot = holdSnapshot ? db.snapshot() : nil
        let lo = 700, hi = 2300
        try db.deleteRange(from: Self.key(lo), to: Self.key(hi))
        for i in lo..<hi { model[Self.key(i)] = nil }
        let inside = before.files[1].filter { f in
            Array(f.smallest.dropLast(8)).lexicographicallyPrecedes(Self.key(lo)) == false
                && Array(f.largest.dropLast(8)).lexicographicallyPrecedes(Self.key(hi))
        }
        let straddling = before.files[1].filter { f in
            !inside.contains(f) && Array(f.smallest.dropLast(8)).lexicographicallyPrecedes(Self.key(hi))
                && Self.key(lo).lexicographicallyPrecedes(Array(f.largest.dropLast(8)))
        }
        #expect(inside.count >= 4 && !straddling.isEmpty)

        fs.resetCounts()
        try db.compactRange(nil, nil)
        let after = db.core.versions.current(0)
        let live = Set(after.files.flatMap { $0.map(\.number) })
        for f in inside {
            #expect(!live.contains(f.number), "input #\(f.number) still listed")
            let reads = Self.readCount(fs, DBPaths.table(path, f.number))
            if holdSnapshot {
                #expect(reads > 0, "#\(f.number) was dropped although a snapshot may see it")
            } else {
                #expect(reads == 0, "#\(f.number) was read \(reads) times although wholly deleted")
            }
        }
        for f in straddling {
            #expect(Self.readCount(fs, DBPaths.table(path, f.number)) > 0, "partly covered #\(f.number) must be merged")
        }
        CompactionTests.expectLevelsDisjoint(after)
        try CompactionTests.expectMatches(db, model, "after the compaction")
        if let snapshot {
            try CompactionTests.expectMatches(db, modelBefore, "snapshot", snapshot: snapshot)
        }
        try db.close()
        let again = try Database.open(at: path, options: o)
        try CompactionTests.expectMatches(again, model, "after reopen")
        try again.close()
    }

    /// A flushed file holding puts and a newer tombstone over all of them has
    /// its upper bound widened to the tombstone's exclusive end; it is still
    /// wholly covered.
    @Test func fileCoveredByItsOwnTombstoneIsDeletedUnread() throws {
        let fs = FaultInjectionFileSystem()
        var o = Options()
        o.fileSystem = fs
        o.blockCacheCapacity = 0
        o.level0FileNumCompactionTrigger = 100
        o.level0SlowdownWritesTrigger = 200
        o.level0StopWritesTrigger = 300
        o.logger.logLevel = .warning
        let path = "/own-tombstone"
        let db = try Database.open(at: path, options: o)
        for i in 100..<200 { try db.put(Self.key(i), [UInt8](repeating: 7, count: 100)) }
        try db.deleteRange(from: Self.key(0), to: Self.key(300))
        try db.flush()
        let covered = db.core.versions.current(0).files[0]
        #expect(covered.count == 1)
        let survivor = utf8("survivor")
        try db.put(Self.key(150), survivor)
        try db.flush()
        _ = try CompactionTests.scan(db)  // open both tables
        fs.resetCounts()
        try db.compactRange(nil, nil)
        let f = try #require(covered.first)
        #expect(Self.readCount(fs, DBPaths.table(path, f.number)) == 0, "the covered file was read")
        #expect(!db.core.versions.current(0).files.joined().contains { $0.number == f.number })
        let all = try CompactionTests.scan(db)
        #expect(all.map(\.0) == [Self.key(150)] && all.map(\.1) == [survivor])
        try db.close()
    }
}
