import Testing
@testable import Strata

/// The merging and level iterators against a sorted array of the same
/// internal keys: full scans both ways, seeks, zig-zags, and scans limited
/// to random bounds (as `DBIterator` drives them), on random inputs whose
/// seed is printed.
@Suite(.offCooperativePool) struct IteratorComponentTests {
    typealias E = ComponentFixture.Entry

    /// Random entries with distinct (key, seq): several versions per key.
    static func entries(_ rng: inout SeededRandom, count: Int, seqBase: UInt64) -> [E] {
        var seen = Set<String>()
        var out: [E] = []
        while out.count < count {
            let key = "k" + String(1000 + rng.below(400))
            let seq = seqBase + UInt64(rng.below(1000))
            guard seen.insert("\(key)@\(seq)").inserted else { continue }
            let deletion = rng.below(5) == 0
            out.append(E(key: key, seq: seq, kind: deletion ? .deletion : .value, value: deletion || rng.below(5) == 0 ? "" : "v\(seq)"))
        }
        return out
    }

    static func sortedReference(_ all: [E]) -> [E] {
        all.sorted { a, b in
            Comparator.bytewise.compareInternal(makeInternalKey(utf8(a.key), a.seq, a.kind), makeInternalKey(utf8(b.key), b.seq, b.kind)) < 0
        }
    }

    static func ikey(_ e: E) -> [UInt8] { makeInternalKey(utf8(e.key), e.seq, e.kind) }

    /// Checks `it` against `want` (sorted): both directions, seeks, zig-zag, bounds.
    static func check(_ it: any InternalIterator, _ want: [E], _ rng: inout SeededRandom, _ context: String) throws {
        #expect(ComponentFixture.drain(it) == want, "\(context): forward")
        var backward: [E] = []
        it.seekToLast()
        while it.isValid { backward.append(ComponentFixture.entry(it)); it.prev() }
        #expect(backward == want.reversed(), "\(context): backward")
        for _ in 0..<40 {
            // A seek target: a user key with a random sequence (entries at or below it).
            let target = E(key: "k" + String(1000 + rng.below(420) - 10), seq: UInt64(rng.below(3000)), kind: .value)
            let t = ikey(target)
            t.withUnsafeBytes { it.seek($0) }
            var index = want.firstIndex { Comparator.bytewise.compareInternal(ikey($0), t) >= 0 } ?? want.count
            for _ in 0..<8 {
                if index < want.count {
                    #expect(it.isValid && ComponentFixture.entry(it) == want[index], "\(context): seek \(target) step")
                } else {
                    #expect(!it.isValid, "\(context): seek \(target) past the end")
                    break
                }
                if rng.below(2) == 0 { it.next(); index += 1 } else {
                    it.prev(); index -= 1
                    if index < 0 { #expect(!it.isValid, "\(context): prev before the start"); break }
                }
            }
        }
        // Bounded scans, the way DBIterator uses a child: seek to the lower
        // bound and stop at the upper one, or seek back from the upper one.
        for _ in 0..<10 {
            var lo = "k" + String(1000 + rng.below(400)), hi = "k" + String(1000 + rng.below(400))
            if hi < lo { swap(&lo, &hi) }
            let inRange = want.filter { $0.key >= lo && $0.key < hi }
            var forward: [E] = []
            makeInternalKey(utf8(lo), maxSequenceNumber, .forSeek).withUnsafeBytes { it.seek($0) }
            while it.isValid, ComponentFixture.entry(it).key < hi { forward.append(ComponentFixture.entry(it)); it.next() }
            #expect(forward == inRange, "\(context): [\(lo), \(hi)) forward")
            var back: [E] = []
            makeInternalKey(utf8(hi), maxSequenceNumber, .forSeek).withUnsafeBytes { it.seek($0) }
            if it.isValid { it.prev() } else { it.seekToLast() }
            while it.isValid, ComponentFixture.entry(it).key >= lo { back.append(ComponentFixture.entry(it)); it.prev() }
            #expect(back == inRange.reversed(), "\(context): [\(lo), \(hi)) backward")
        }
        try #require(it.status() == nil)
    }

    static func memtable(_ entries: [E]) -> Memtable {
        let m = Memtable(comparator: .bytewise)
        for e in entries {
            utf8(e.key).withUnsafeBytes { k in utf8(e.value).withUnsafeBytes { v in m.add(sequence: e.seq, kind: e.kind, key: k, value: v) } }
        }
        return m
    }

    @Test(arguments: 0..<4)
    func mergingIteratorMatchesASortedArray(round: Int) throws {
        var rng = SeededRandom(seed: TestSeed.resolve("IteratorComponentTests.merging.\(round)", default: 31 + UInt64(round)))
        let f = ComponentFixture()
        var all: [E] = []
        var children: [any InternalIterator] = []
        // Memtables and tables, some empty, with disjoint sequence ranges.
        for child in 0..<(2 + rng.below(4)) {
            let part = child == 1 ? [] : Self.entries(&rng, count: rng.below(300), seqBase: UInt64(child) * 1000)
            all += part
            if rng.below(2) == 0 {
                children.append(Self.memtable(part).makeIterator())
            } else {
                let t = try f.table(part)
                children.append(try f.tableCache.reader(for: t, comparator: .bytewise).makeIterator(verifyChecksums: true, fillCache: false))
            }
        }
        let it = MergingIterator(children, comparator: .bytewise)
        try Self.check(it, Self.sortedReference(all), &rng, "merging round \(round)")
    }

    @Test(arguments: 0..<3)
    func levelIteratorMatchesASortedArray(round: Int) throws {
        var rng = SeededRandom(seed: TestSeed.resolve("IteratorComponentTests.level.\(round)", default: 71 + UInt64(round)))
        let f = ComponentFixture()
        // One sorted level: disjoint key ranges per file, in order.
        var files: [FileMetaData] = []
        var all: [E] = []
        var next = 1000
        for _ in 0..<(1 + rng.below(6)) {
            var part: [E] = []
            let width = 1 + rng.below(60)
            for k in next..<(next + width) {
                for v in 0..<(1 + rng.below(3)) {
                    part.append(E(key: "k\(k)", seq: UInt64(10 * v + 1 + rng.below(9)), value: "v\(k).\(v)"))
                }
            }
            next += width + rng.below(10)
            let dedup = Dictionary(part.map { ("\($0.key)@\($0.seq)", $0) }, uniquingKeysWith: { a, _ in a }).values
            all += dedup
            files.append(try f.table(Array(dedup)))
        }
        let it = LevelIterator(files: files, tables: f.tableCache, comparator: .bytewise, verifyChecksums: true, fillCache: false)
        try Self.check(it, Self.sortedReference(all), &rng, "level round \(round)")
    }
}
