import Foundation
import Testing
@testable import Strata

/// Two compactions due at the same moment on two compaction threads (two
/// families' level 0, or level 0 and level 1 of one family): the threads
/// work the backlog off and `waitForBackgroundWork` returns. The state is
/// built with automatic compaction held off by high triggers, then the
/// database is reopened with low ones, so both jobs are due at once
/// whatever the scheduling.
@Suite struct ConcurrentCompactionWaitTests {
    static func options(trigger: Int, levelBase: UInt64) -> Options {
        var o = CompactionTests.smallOptions()
        o.maxBackgroundCompactions = 2
        o.writeBufferSize = 16 << 10
        o.targetFileSizeBase = 16 << 10
        o.maxBytesForLevelBase = levelBase
        o.levelSizeMultiplier = 3
        o.level0FileNumCompactionTrigger = trigger
        o.level0SlowdownWritesTrigger = max(trigger, 20)
        o.level0StopWritesTrigger = max(trigger, 20) + 16
        return o
    }

    static func fill(_ db: Database, _ family: ColumnFamily?, files: Int, seed: UInt64) throws -> [[UInt8]: [UInt8]] {
        var rng = SeededRandom(seed: seed)
        var model: [[UInt8]: [UInt8]] = [:]
        for _ in 0..<files {
            for _ in 0..<150 {
                let k = CompactionTests.key(Int(rng.next() % 4000))
                let v = CompactionTests.value(&rng)
                try db.put(k, v, in: family)
                model[k] = v
            }
            try db.flush()
        }
        return model
    }

    static func expect(_ db: Database, _ family: ColumnFamily?, _ model: [[UInt8]: [UInt8]]) throws {
        for (k, v) in model { #expect(try db.get(k, in: family) == v) }
    }

    @Test func twoFamiliesDueAtOnce() throws {
        let dir = TempDir("two-families-due")
        defer { dir.cleanup() }
        var db = try Database.open(at: dir.path, options: Self.options(trigger: 30, levelBase: 64 << 10))
        let a = try db.createColumnFamily("a")
        let modelDefault = try Self.fill(db, nil, files: 10, seed: 1)
        let modelA = try Self.fill(db, a, files: 10, seed: 2)
        // At least one level-0 file per flush (a full memtable adds more).
        #expect(db.core.versions.current(0).files[0].count >= 10)
        #expect(db.core.versions.current(a.id).files[0].count >= 10)
        try db.close()

        db = try Database.open(at: dir.path, options: Self.options(trigger: 2, levelBase: 64 << 10))
        let reopenedA = try #require(db.columnFamily("a"))
        #expect(db.core.waitForBackgroundWork(timeout: .seconds(120)), "compaction backlog of two families not worked off")
        for f in [0, reopenedA.id] {
            let v = db.core.versions.current(f)
            #expect(v.files[0].count < 2, "family \(f) levels: \(v.files.map(\.count))")
        }
        try Self.expect(db, nil, modelDefault)
        try Self.expect(db, reopenedA, modelA)
        try db.close()
    }

    @Test func twoLevelsDueAtOnce() throws {
        let dir = TempDir("two-levels-due")
        defer { dir.cleanup() }
        var db = try Database.open(at: dir.path, options: Self.options(trigger: 30, levelBase: 64 << 20))
        var model = try Self.fill(db, nil, files: 8, seed: 3)
        try db.compactRange(nil, nil)  // everything at one level (level 1: nothing deeper)
        model.merge(try Self.fill(db, nil, files: 8, seed: 4)) { _, new in new }
        let before = db.core.versions.current(0)
        #expect(before.files[0].count >= 8)
        #expect(before.files[1].count > 0, "levels: \(before.files.map(\.count))")
        try db.close()

        db = try Database.open(at: dir.path, options: Self.options(trigger: 2, levelBase: 16 << 10))
        let core = db.core
        let scores = core.mu.withHeld { core.families($0).member(0)!.picker.scores(core.versions.current(0)) }
        #expect(scores[0] >= 1 && scores[1] >= 1, "scores at reopen: \(scores)")
        #expect(db.core.waitForBackgroundWork(timeout: .seconds(120)), "compaction backlog of two levels not worked off")
        try Self.expect(db, nil, model)
        try db.close()
    }
}
