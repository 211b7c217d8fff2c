import Foundation
import Testing
@testable import Strata

/// FuzzDBMap's range-delete finding (kept as
/// Fuzz/corpus/FuzzDBMap/crash-range-delete-resurrects-after-reopen): a
/// compaction that cut its output at a user key whose entries were all
/// dropped started the next output at the next *kept* key, so the range
/// tombstone pieces between the two keys went into no file; an older entry
/// in a deeper level then came back.
@Suite(.offCooperativePool) struct RangeDeleteResurrectionTests {
    @Test func tombstonesBetweenOutputsSurviveWhenTheCutKeyIsDropped() throws {
        let dir = TempDir()
        var options = Options()
        options.logger.logLevel = .critical
        options.targetFileSizeBase = 1               // cut after every kept user key
        options.level0FileNumCompactionTrigger = 100 // compactions only when asked or scored
        options.level0SlowdownWritesTrigger = 200
        options.level0StopWritesTrigger = 300
        options.maxBytesForLevelBase = 1             // level 1 always over target: it drains into level 2
        options.levelSizeMultiplier = 1_000_000
        let db = try Database.open(at: dir.path, options: options)
        defer { try? db.close() }
        func k(_ i: Int) -> [UInt8] { utf8("k\(i)") }

        // An old "k4" that ends in level 2.
        try db.put(k(4), utf8("old"))
        try db.flush()
        try db.compactRange(nil, nil)
        #expect(db.core.waitForBackgroundWork())
        #expect(db.property("strata.num-files-at-level2") == "1")

        // Level 0: keys k1…k8, then a newer deleteRange [k3, k7).
        for i in 1...8 { try db.put(k(i), utf8("new\(i)")) }
        try db.flush()
        try db.deleteRange(from: k(3), to: k(7))
        try db.flush()
        // Level 0 → 1 drops k3…k6 (all covered) between outputs k2 and k7;
        // then level 1 → 2 merges with the old k4.
        try db.compactRange(nil, nil)
        #expect(db.core.waitForBackgroundWork())
        #expect(try db.get(k(4)) == nil)
        let it = try db.makeIterator()
        var keys: [[UInt8]] = []
        it.seekToFirst()
        while it.isValid { keys.append(it.key); it.next() }
        #expect(keys == [k(1), k(2), k(7), k(8)])
    }
}
