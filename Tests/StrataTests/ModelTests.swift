import Foundation
import Testing
@testable import Strata

/// Random operations against the database and an in-memory sorted model,
/// checked after every read: gets, iterations both ways with bounds, seeks,
/// snapshots, range deletes, flushes, compactions of random ranges and
/// close/reopen cycles.
@Suite(.offCooperativePool) struct ModelTests {
    typealias Model = SortedModel

    static func sortedEntries(_ m: Model, lower: [UInt8]?, upper: [UInt8]?) -> [([UInt8], [UInt8])] {
        m.entries(lower: lower, upper: upper).map { ($0.key, $0.value) }
    }

    static func randomKey(_ rng: inout SeededRandom) -> [UInt8] {
        let n = Int(rng.next() % 400)
        if n == 0 { return [] }
        // Varying widths share prefixes, exercising prefix compression.
        let width = Int(rng.next() % 3)
        return utf8("key" + String(repeating: "0", count: width) + String(n))
    }

    static func randomValue(_ rng: inout SeededRandom) -> [UInt8] {
        let len = Int(rng.next() % 40)
        return (0..<len).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
    }

    /// What `deleteRange(from:to:)` does to the model: removes `[from, to)`.
    static func removeRange(_ m: inout Model, _ from: [UInt8], _ to: [UInt8]) {
        m.removeRange(from: from, to: to)
    }

    static func randomBound(_ rng: inout SeededRandom) -> [UInt8]? {
        rng.next() % 3 == 0 ? randomKey(&rng) : nil
    }

    func checkIteration(_ db: Database, _ model: Model, snapshot: Snapshot?, rng: inout SeededRandom, seed: UInt64) throws {
        var lower = Self.randomBound(&rng)
        var upper = Self.randomBound(&rng)
        if let l = lower, let u = upper, u.lexicographicallyPrecedes(l) { swap(&lower, &upper) }
        let expected = Self.sortedEntries(model, lower: lower, upper: upper)
        let it = try db.makeIterator(options: ReadOptions(snapshot: snapshot, lowerBound: lower, upperBound: upper))
        switch rng.next() % 4 {
        case 0:
            var got: [([UInt8], [UInt8])] = []
            it.seekToFirst()
            while it.isValid { got.append((it.key, it.value)); it.next() }
            #expect(got.map(\.0) == expected.map(\.0), "seed \(seed): forward keys")
            #expect(got.map(\.1) == expected.map(\.1), "seed \(seed): forward values")
        case 1:
            var got: [([UInt8], [UInt8])] = []
            it.seekToLast()
            while it.isValid { got.append((it.key, it.value)); it.prev() }
            #expect(got.map(\.0) == expected.reversed().map(\.0), "seed \(seed): backward keys")
            #expect(got.map(\.1) == expected.reversed().map(\.1), "seed \(seed): backward values")
        case 2:
            // Seek, then zig-zag.
            let target = Self.randomKey(&rng)
            it.seek(target)
            var idx = expected.firstIndex { !$0.0.lexicographicallyPrecedes(target) }
            for _ in 0..<6 {
                if let i = idx, i < expected.count {
                    #expect(it.isValid && it.key == expected[i].0 && it.value == expected[i].1, "seed \(seed): seek/zigzag")
                } else {
                    #expect(!it.isValid, "seed \(seed): seek past end")
                    break
                }
                if rng.next() % 2 == 0 {
                    it.next(); idx = idx! + 1
                } else {
                    it.prev(); idx = idx! - 1
                    if idx! < 0 { #expect(!it.isValid, "seed \(seed): prev past start"); break }
                }
            }
        default:
            let target = Self.randomKey(&rng)
            it.seekForPrev(target)
            let idx = expected.lastIndex { !target.lexicographicallyPrecedes($0.0) }
            if let i = idx {
                #expect(it.isValid && it.key == expected[i].0, "seed \(seed): seekForPrev")
            } else {
                #expect(!it.isValid, "seed \(seed): seekForPrev before start")
            }
        }
        try it.checkStatus()
    }

    @Test(arguments: 0..<16)
    func randomOperationsMatchModel(seed: Int) throws {
        let seed = UInt64(seed)
        var rng = SeededRandom(seed: seed &* 0x5851_F42D_4C95_7F2D &+ 99)
        let dir = TempDir("model")
        defer { dir.cleanup() }
        var options = Options()
        options.writeBufferSize = 8 << 10 + Int(rng.next() % (24 << 10))
        options.blockSize = 128 + Int(rng.next() % 512)
        options.blockRestartInterval = 1 + Int(rng.next() % 16)
        options.compression = rng.next() % 2 == 0 ? .lz4 : .none
        options.bloomBitsPerKey = rng.next() % 4 == 0 ? 0 : 10
        options.blockCacheCapacity = rng.next() % 3 == 0 ? 0 : 64 << 10
        options.targetFileSizeBase = 4 << 10 + rng.next() % (16 << 10)
        options.maxBytesForLevelBase = 16 << 10 + rng.next() % (48 << 10)
        options.levelSizeMultiplier = 2 + Double(rng.next() % 4)
        options.level0FileNumCompactionTrigger = 2 + Int(rng.next() % 3)
        options.maxBackgroundCompactions = 1 + Int(seed % 2)
        // Mapped table reads and the memtable filter, on and off.
        options.allowMmapReads = seed % 4 < 2
        options.memtableBloomSizeRatio = seed % 3 == 0 ? 0 : 1.0 / 64
        var db = try Database.open(at: dir.path, options: options)
        var model = Model()
        var snapshots: [(Snapshot, Model)] = []

        for _ in 0..<1500 {
            let r = rng.next() % 100
            switch r {
            case 0..<36:
                let k = Self.randomKey(&rng), v = Self.randomValue(&rng)
                try db.put(k, v)
                model[k] = v
            case 36..<40:
                // Random ranges, sometimes empty or inverted (a no-op).
                let from = Self.randomKey(&rng), to = Self.randomKey(&rng)
                try db.deleteRange(from: from, to: to)
                Self.removeRange(&model, from, to)
            case 40..<55:
                let k = Self.randomKey(&rng)
                try db.delete(k)
                model[k] = nil
            case 55..<65:
                var b = WriteBatch()
                var staged = model
                for _ in 0..<(1 + rng.next() % 8) {
                    let k = Self.randomKey(&rng)
                    if rng.next() % 8 == 0 {
                        let to = Self.randomKey(&rng)
                        b.deleteRange(from: k, to: to)
                        Self.removeRange(&staged, k, to)
                    } else if rng.next() % 3 == 0 {
                        b.delete(k); staged[k] = nil
                    } else {
                        let v = Self.randomValue(&rng)
                        b.put(k, v); staged[k] = v
                    }
                }
                let mode: CommitMode = [.syncDurable, .memoryOnly, .asyncDurable(groupWindow: .milliseconds(5))][Int(rng.next() % 3)]
                try db.write(b, options: WriteOptions(commitMode: mode))
                model = staged
            case 65..<78:
                let k = Self.randomKey(&rng)
                #expect(try db.get(k) == model[k], "seed \(seed): get")
            case 78..<86:
                try checkIteration(db, model, snapshot: nil, rng: &rng, seed: seed)
            case 86..<90:
                if let (snap, m) = snapshots.randomElement(using: &rng) {
                    let k = Self.randomKey(&rng)
                    #expect(try db.get(k, options: ReadOptions(snapshot: snap)) == m[k], "seed \(seed): snapshot get")
                    try checkIteration(db, m, snapshot: snap, rng: &rng, seed: seed)
                }
            case 90..<94:
                snapshots.append((db.snapshot(), model))
            case 94..<96:
                if !snapshots.isEmpty { snapshots.remove(at: Int(rng.next() % UInt64(snapshots.count))) }
            case 96:
                try db.flush()
            case 97:
                var lo = Self.randomBound(&rng)
                var hi = Self.randomBound(&rng)
                if let l = lo, let h = hi, h.lexicographicallyPrecedes(l) { swap(&lo, &hi) }
                try db.compactRange(lo, hi)
            default:
                snapshots.removeAll()
                try db.close()
                db = try Database.open(at: dir.path, options: options)
            }
        }
        // Everything once more, after a final reopen.
        snapshots.removeAll()
        try db.close()
        db = try Database.open(at: dir.path, options: options)
        let all = Self.sortedEntries(model, lower: nil, upper: nil)
        let it = try db.makeIterator()
        it.seekToFirst()
        var got: [[UInt8]] = []
        while it.isValid { got.append(it.key); it.next() }
        #expect(got == all.map(\.0), "seed \(seed): final scan")
        for (k, v) in all { #expect(try db.get(k) == v) }
        try db.close()
    }
}
