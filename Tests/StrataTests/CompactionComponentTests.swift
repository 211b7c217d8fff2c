import Testing
@testable import Strata

/// The compaction picker and the compaction job as components, without a
/// database or threads: scores, conflicts, round robin; every drop rule of
/// the job with and without snapshots and range tombstones.
@Suite(.offCooperativePool) struct CompactionPickerComponentTests {
    static func options() -> Options {
        var o = Options()
        o.level0FileNumCompactionTrigger = 4
        o.maxBytesForLevelBase = 10_000
        o.levelSizeMultiplier = 10
        o.targetFileSizeBase = 1 << 20
        return try! o.validated()
    }

    @Test func scoresFollowTheOneFormula() {
        let f = ComponentFixture()
        let picker = CompactionPicker(options: Self.options())
        let v = f.version([0: [f.meta("a", "b"), f.meta("c", "d")],
                           1: [f.meta("a", "m", size: 15_000)],
                           2: [f.meta("a", "z", size: 50_000)]])
        let s = picker.scores(v)
        #expect(s.count == Version.numLevels - 1)
        #expect(s[0] == 0.5)
        #expect(s[1] == 1.5)
        #expect(s[2] == 0.5)
        let score = CompactionScore(options: Self.options())
        for level in 0..<s.count { #expect(score.score(v, level: level) == s[level]) }
        // Pending bytes: level 1's excess only (level 0 is under its trigger).
        #expect(picker.pendingCompactionBytes(v) == 5_000)
    }

    @Test func picksTheHighestScoreAndNothingWhenAllAreBelowOne() throws {
        let f = ComponentFixture()
        let picker = CompactionPicker(options: Self.options())
        let calm = f.version([0: [f.meta("a", "b")], 1: [f.meta("a", "m", size: 9_000)]])
        #expect(picker.pickAutomatic(calm) == nil)
        let l0 = (0..<6).map { i in f.meta("k\(i)", "k\(i)x") }
        let busy = f.version([0: l0, 1: [f.meta("a", "m", size: 12_000)]])
        let c = try #require(picker.pickAutomatic(busy))
        #expect(c.level == 0 && c.outputLevel == 1)  // 6/4 = 1.5 beats 1.2
        #expect(c.inputs[0].count == 1, "the oldest level-0 file, no overlaps to widen by")
    }

    @Test func level0PickWidensToEveryOverlappingFile() throws {
        let f = ComponentFixture()
        let picker = CompactionPicker(options: Self.options())
        // Newest first: the oldest ("a".."f") overlaps "e".."h", which overlaps "g".."k".
        let files = [f.meta("x", "y"), f.meta("g", "k"), f.meta("e", "h"), f.meta("a", "f")]
        let v = f.version([0: files, 1: [f.meta("b", "c"), f.meta("z", "zz")]])
        let c = try #require(picker.pickAutomatic(v))
        #expect(Set(c.inputs[0].map(\.number)) == Set(files[1...].map(\.number)))
        #expect(c.inputs[1].count == 1)
    }

    @Test func roundRobinWalksTheLevelAndWraps() throws {
        let f = ComponentFixture()
        let picker = CompactionPicker(options: Self.options())
        let level1 = [f.meta("a", "b", size: 6_000), f.meta("c", "d", size: 6_000), f.meta("e", "f", size: 6_000)]
        let v = f.version([1: level1])
        var picked: [UInt64] = []
        for _ in 0..<4 { picked.append(try #require(picker.pickAutomatic(v)).inputs[0][0].number) }
        #expect(picked == [level1[0].number, level1[1].number, level1[2].number, level1[0].number])
    }

    @Test func conflictingCandidatesArePassedOver() throws {
        let f = ComponentFixture()
        let picker = CompactionPicker(options: Self.options())
        let level1 = [f.meta("a", "b", size: 8_000), f.meta("c", "d", size: 8_000)]
        let v = f.version([1: level1])
        let busy = level1[0].number
        let c = try #require(picker.pickAutomatic(v) { $0.inputs[0].contains { $0.number == busy } })
        #expect(c.inputs[0][0].number == level1[1].number)
        #expect(picker.pickAutomatic(v) { _ in true } == nil)
    }

    @Test func compactionControlClashes() throws {
        let f = ComponentFixture()
        let picker = CompactionPicker(options: Self.options())
        let control = CompactionControl(options: Self.options())
        let level1 = [f.meta("a", "c", size: 8_000), f.meta("d", "f", size: 8_000), f.meta("g", "i", size: 8_000)]
        let level2 = [f.meta("a", "e"), f.meta("g", "z")]
        let v = f.version([0: [f.meta("a", "z"), f.meta("b", "y")], 1: level1, 2: level2])
        let first = try #require(picker.pickManual(v, level: 1, begin: utf8("a"), end: utf8("b"), maxInputBytes: 1)).0
        #expect(!control.conflicts(first, family: 0))
        let id = control.start(first, family: 0)
        #expect(control.running == 1)
        // Shares level 2's "a".."e" file (busy) and output range.
        let second = try #require(picker.pickManual(v, level: 1, begin: utf8("d"), end: utf8("e"), maxInputBytes: 1)).0
        #expect(control.conflicts(second, family: 0))
        // The same ranges in another family's own files: no clash.
        let other = f.version([1: [f.meta("d", "f", size: 8_000)], 2: [f.meta("a", "e")]])
        let elsewhere = try #require(picker.pickManual(other, level: 1, begin: utf8("d"), end: utf8("e"), maxInputBytes: 1)).0
        #expect(!control.conflicts(elsewhere, family: 1))
        // Disjoint range at the same levels: no clash.
        let third = try #require(picker.pickManual(v, level: 1, begin: utf8("h"), end: utf8("h"), maxInputBytes: 1)).0
        #expect(!control.conflicts(third, family: 0))
        // Two level-0 jobs of one family never run together, even on disjoint files.
        let l0a = try #require(picker.pickManual(f.version([0: [f.meta("a", "b")]]), level: 0, begin: nil, end: nil, maxInputBytes: .max)).0
        let l0b = try #require(picker.pickManual(f.version([0: [f.meta("x", "y")]]), level: 0, begin: nil, end: nil, maxInputBytes: .max)).0
        let l0id = control.start(l0a, family: 3)
        #expect(control.conflicts(l0b, family: 3))
        #expect(!control.conflicts(l0b, family: 4))
        control.finish(l0id)
        control.finish(id)
        #expect(control.running == 0)
        #expect(!control.conflicts(second, family: 0))
        #expect(control.sharedInputStarts == 0)
    }
}

@Suite(.offCooperativePool) struct CompactionJobComponentTests {
    typealias E = ComponentFixture.Entry

    static func options() -> Options {
        var o = Options()
        o.targetFileSizeBase = 1 << 20
        return try! o.validated()
    }

    /// Compacts `upper` (level 1) into `lower` (level 2); `deeper` files
    /// sit at level 3, below the output.
    static func compact(_ f: ComponentFixture, upper: [FileMetaData], lower: [FileMetaData] = [], deeper: [FileMetaData] = [],
                        snapshots: [SequenceNumber] = []) throws -> [E] {
        let v = f.version([1: upper, 2: lower, 3: deeper])
        let c = Compaction(version: v, level: 1, outputLevel: 2, inputs: [upper, lower], grandparents: deeper,
                           options: options(), isManual: true)
        return try f.run(c, snapshots: snapshots).entries
    }

    @Test func aLoneInputIsMovedNotRewritten() throws {
        let f = ComponentFixture()
        let t = try f.table([E(key: "a", seq: 5, value: "new"), E(key: "a", seq: 3, value: "old")])
        let v = f.version([1: [t]])
        let c = Compaction(version: v, level: 1, outputLevel: 2, inputs: [[t], []], grandparents: [], options: Self.options(), isManual: true)
        #expect(c.isTrivialMove)
        let (entries, job) = try f.run(c)
        #expect(entries.isEmpty && job.outputs.isEmpty)
    }

    @Test func olderVersionsInOneStripeAreDropped() throws {
        let f = ComponentFixture()
        let t = try f.table([E(key: "a", seq: 5, value: "new"), E(key: "a", seq: 3, value: "old"), E(key: "b", seq: 4, value: "b")])
        // A level-2 file to merge with (one file alone would be moved, not rewritten).
        let lower = try f.table([E(key: "a", seq: 1, value: "oldest")])
        #expect(try Self.compact(f, upper: [t], lower: [lower]) == [E(key: "a", seq: 5, value: "new"), E(key: "b", seq: 4, value: "b")])
    }

    @Test func aSnapshotBetweenVersionsKeepsBoth() throws {
        let f = ComponentFixture()
        let t = try f.table([E(key: "a", seq: 5, value: "new"), E(key: "a", seq: 3, value: "old"), E(key: "a", seq: 2, value: "older")])
        let lower = try f.table([E(key: "a", seq: 1, value: "oldest")])
        // Snapshot 4 sees seq 3; seqs 2 and 1 are hidden from every reader by seq 3.
        #expect(try Self.compact(f, upper: [t], lower: [lower], snapshots: [4]) == [E(key: "a", seq: 5, value: "new"), E(key: "a", seq: 3, value: "old")])
    }

    @Test func deletionAtTheBaseLevelDropsWithEverythingOlder() throws {
        let f = ComponentFixture()
        let upper = try f.table([E(key: "b", seq: 6, kind: .deletion), E(key: "c", seq: 6, value: "c")])
        let lower = try f.table([E(key: "b", seq: 2, value: "gone")])
        #expect(try Self.compact(f, upper: [upper], lower: [lower]) == [E(key: "c", seq: 6, value: "c")])
    }

    @Test func deletionAboveDeeperDataIsKept() throws {
        let f = ComponentFixture()
        let upper = try f.table([E(key: "b", seq: 6, kind: .deletion)])
        let lower = try f.table([E(key: "b", seq: 2, value: "old")])
        let deeper = try f.table([E(key: "b", seq: 1, value: "older")])
        // The deletion still hides level 3's entry; level 2's is in its stripe and goes.
        #expect(try Self.compact(f, upper: [upper], lower: [lower], deeper: [deeper]) == [E(key: "b", seq: 6, kind: .deletion)])
    }

    @Test func deletionNewerThanASnapshotIsKept() throws {
        let f = ComponentFixture()
        let upper = try f.table([E(key: "b", seq: 6, kind: .deletion)])
        let lower = try f.table([E(key: "b", seq: 2, value: "seen")])
        #expect(try Self.compact(f, upper: [upper], lower: [lower], snapshots: [4])
                == [E(key: "b", seq: 6, kind: .deletion), E(key: "b", seq: 2, value: "seen")])
    }

    @Test func rangeTombstoneDropsWhatItCoversUnlessASnapshotSeparates() throws {
        for snapshot in [nil, 8 as UInt64] {
            let f = ComponentFixture()
            let upper = try f.table([E(key: "a", seq: 11, value: "a")], tombstones: [RangeTombstone(begin: utf8("c"), end: utf8("e"), sequence: 10)])
            let lower = try f.table([E(key: "c", seq: 5, value: "c"), E(key: "d", seq: 7, value: "d"), E(key: "e", seq: 3, value: "e"),
                                     E(key: "d", seq: 12, value: "newer")])
            let got = try Self.compact(f, upper: [upper], lower: [lower], snapshots: snapshot.map { [$0] } ?? [])
            let points = got.filter { $0.kind != .rangeDeletion }
            if snapshot == nil {
                // Covered entries go; "e" (the exclusive end) and the newer "d" stay.
                #expect(points == [E(key: "a", seq: 11, value: "a"), E(key: "d", seq: 12, value: "newer"), E(key: "e", seq: 3, value: "e")])
            } else {
                // Snapshot 8 predates the tombstone: it still sees c@5 and d@7.
                #expect(points == [E(key: "a", seq: 11, value: "a"), E(key: "c", seq: 5, value: "c"), E(key: "d", seq: 12, value: "newer"),
                                   E(key: "d", seq: 7, value: "d"), E(key: "e", seq: 3, value: "e")])
            }
        }
    }
}
