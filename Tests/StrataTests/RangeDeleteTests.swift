import Foundation
import Synchronization
import Testing
@testable import Strata

/// Range deletes: the fragmenter against a brute-force model, the table
/// range-deletion block, and `deleteRange` seen through gets and iterators
/// in the memtable, in tables, across reopen and under snapshots.
@Suite(.offCooperativePool) struct RangeDeleteTests {
    // MARK: Fragmenter

    /// Keys over a tiny alphabet so tombstones overlap and share boundaries.
    static func smallKey(_ rng: inout SeededRandom) -> [UInt8] {
        let n = Int(rng.next() % 3)
        return (0..<n).map { _ in UInt8(97 + rng.next() % 4) }
    }

    static func allSmallKeys() -> [[UInt8]] {
        var keys: [[UInt8]] = [[]]
        for a in 96...101 {
            keys.append([UInt8(a)])
            for b in 96...101 { keys.append([UInt8(a), UInt8(b)]) }
        }
        return keys.sorted { compareBytes($0, $1) < 0 }
    }

    static func bruteForce(_ ts: [RangeTombstone], _ key: [UInt8], _ snapshot: SequenceNumber) -> SequenceNumber {
        ts.filter { compareBytes($0.begin, key) <= 0 && compareBytes(key, $0.end) < 0 && $0.sequence <= snapshot }
            .map(\.sequence).max() ?? 0
    }

    @Test(arguments: 0..<200)
    func fragmenterMatchesBruteForce(seed: Int) {
        var rng = SeededRandom(seed: UInt64(seed) &* 0x9E37_79B9 &+ 7)
        let ts = (0..<Int(rng.next() % 12)).map { _ in
            RangeTombstone(begin: Self.smallKey(&rng), end: Self.smallKey(&rng), sequence: 1 + rng.next() % 20)
        }
        let f = RangeTombstoneFragments(ts.shuffled(using: &rng), comparator: .bytewise)
        // Shape: sorted, non-empty, non-overlapping, sequences strictly descending.
        let all = f.all
        for (i, frag) in all.enumerated() {
            #expect(compareBytes(frag.begin, frag.end) < 0, "seed \(seed): empty fragment")
            #expect(!frag.sequences.isEmpty && zip(frag.sequences, frag.sequences.dropFirst()).allSatisfy { $0 > $1 },
                    "seed \(seed): sequences not strictly descending")
            if i > 0 { #expect(compareBytes(all[i - 1].end, frag.begin) <= 0, "seed \(seed): fragments overlap") }
        }
        let keys = Self.allSmallKeys()
        for snapshot: SequenceNumber in [0, 1, 5, 10, 15, 20, maxSequenceNumber] {
            for key in keys {
                #expect(f.maxCoveringSequence(key, atOrBelow: snapshot) == Self.bruteForce(ts, key, snapshot),
                        "seed \(seed): key \(key) at \(snapshot)")
            }
            // The cursor, asked in ascending, descending and random order.
            var orders = [keys, keys.reversed()]
            orders.append((0..<60).map { _ in keys[Int(rng.next() % UInt64(keys.count))] })
            for order in orders {
                var cursor = RangeTombstoneCursor(f, snapshot: snapshot)
                for key in order {
                    let t = key.withUnsafeBytes { cursor.coveringSequence($0) }
                    #expect(t == Self.bruteForce(ts, key, snapshot), "seed \(seed): cursor key \(key) at \(snapshot)")
                    if t > 0 {
                        // The whole fragment shares the answer, which is what lets iterators jump it.
                        let begin = cursor.begin.array
                        #expect(compareBytes(begin, key) <= 0 && compareBytes(key, cursor.end.array) < 0)
                        #expect(Self.bruteForce(ts, begin, snapshot) == t, "seed \(seed): fragment not uniform")
                    }
                }
            }
        }
    }

    @Test func fragmenterEdgeCases() {
        #expect(RangeTombstoneFragments([], comparator: .bytewise).isEmpty)
        // Empty and inverted ranges delete nothing.
        let f = RangeTombstoneFragments([RangeTombstone(begin: utf8("b"), end: utf8("b"), sequence: 3),
                                         RangeTombstone(begin: utf8("c"), end: utf8("a"), sequence: 4)], comparator: .bytewise)
        #expect(f.isEmpty)
        // Adjacent ranges with the same sequences merge; the empty key is a valid begin.
        let g = RangeTombstoneFragments([RangeTombstone(begin: [], end: utf8("b"), sequence: 5),
                                         RangeTombstone(begin: utf8("b"), end: utf8("c"), sequence: 5)], comparator: .bytewise)
        #expect(g.count == 1)
        #expect(g.maxCoveringSequence([], atOrBelow: 9) == 5)
        #expect(g.maxCoveringSequence(utf8("bz"), atOrBelow: 9) == 5)
        #expect(g.maxCoveringSequence(utf8("c"), atOrBelow: 9) == 0)
        #expect(g.maxCoveringSequence(utf8("a"), atOrBelow: 4) == 0)
    }

    // MARK: Table block

    static func tombstone(_ b: String, _ e: String, _ s: SequenceNumber) -> RangeTombstone {
        RangeTombstone(begin: utf8(b), end: utf8(e), sequence: s)
    }

    @Test func tableStoresTombstonesAndWidensItsRange() throws {
        let sink = TableTestSink()
        let b = TableBuilder(file: sink, options: TableBuilderOptions(bloomBitsPerKey: 0, comparator: .bytewise))
        try b.addRangeTombstone(Self.tombstone("m", "q", 9))
        try makeInternalKey(utf8("d"), 3, .value).withUnsafeBytes { k in try utf8("v").withUnsafeBytes { try b.add(k, $0) } }
        try b.addRangeTombstone(Self.tombstone("a", "c", 7))
        try b.addRangeTombstone(Self.tombstone("k", "z", 8))
        try b.addRangeTombstone(Self.tombstone("x", "x", 10))  // empty: dropped
        try makeInternalKey(utf8("e"), 4, .value).withUnsafeBytes { k in try utf8("w").withUnsafeBytes { try b.add(k, $0) } }
        let props = try b.finish()
        #expect(props.numRangeDeletions == 3)
        #expect(props.numEntries == 2)
        #expect(props.maxPointSequence == 4)
        #expect(props.smallest == makeInternalKey(utf8("a"), 7, .rangeDeletion))
        #expect(props.largest == makeInternalKey(utf8("z"), maxSequenceNumber, .rangeDeletion))
        let t = try TableTests.open(sink.bytes)
        #expect(t.properties.numRangeDeletions == 3)
        #expect(t.rangeTombstones == [Self.tombstone("a", "c", 7), Self.tombstone("k", "z", 8), Self.tombstone("m", "q", 9)])
        #expect(try TableTests.get(t, utf8("d"), 10) == .found(kind: .value, sequence: 3, value: utf8("v")))
    }

    @Test func tableWithOnlyTombstones() throws {
        let sink = TableTestSink()
        let b = TableBuilder(file: sink, options: TableBuilderOptions(comparator: .bytewise))
        try b.addRangeTombstone(Self.tombstone("b", "d", 5))
        let props = try b.finish()
        #expect(props.numEntries == 0 && props.dataBlocks == 0)
        #expect(props.smallest == makeInternalKey(utf8("b"), 5, .rangeDeletion))
        let t = try TableTests.open(sink.bytes)
        #expect(t.rangeTombstones == [Self.tombstone("b", "d", 5)])
        #expect(try TableTests.get(t, utf8("c"), 10) == .notFound)
        let it = t.makeIterator(verifyChecksums: true, fillCache: false)
        it.seekToFirst()
        #expect(!it.isValid && it.status() == nil)
    }

    /// Every byte of the range-deletion block and its trailer, flipped: the
    /// open fails with `.corruption` or yields the same tombstones.
    @Test func byteFlipsInTheRangeDeletionBlock() throws {
        let sink = TableTestSink()
        // No data and no filter, so the range-deletion block starts at offset 0.
        let b = TableBuilder(file: sink, options: TableBuilderOptions(bloomBitsPerKey: 0, comparator: .bytewise))
        let expected = [Self.tombstone("apple", "banana", 11), Self.tombstone("cherry", "date", 12),
                        Self.tombstone("cherry", "fig", 3)]
        for t in expected.reversed() { try b.addRangeTombstone(t) }
        _ = try b.finish()
        let original = try TableTests.open(sink.bytes)
        #expect(original.rangeTombstones == expected)
        // The block's size: everything up to the properties block, found via the meta-index.
        let blockEnd = try Self.rangeDeletionBlockEnd(sink.bytes)
        var detected = 0
        for offset in 0..<blockEnd {
            for bit in [0, 3, 7] {
                var bytes = sink.bytes
                bytes[offset] ^= UInt8(1 << bit)
                do {
                    let t = try TableTests.open(bytes)
                    #expect(t.rangeTombstones == expected, "flip at \(offset) changed the tombstones")
                } catch let e as StrataError {
                    #expect(e.kind == .corruption, "flip at \(offset): \(e)")
                    detected += 1
                }
            }
        }
        #expect(detected > 0)
    }

    /// The example in Docs/format-table.md, byte for byte.
    @Test func documentedBlockBytes() throws {
        let sink = TableTestSink()
        let b = TableBuilder(file: sink, options: TableBuilderOptions(bloomBitsPerKey: 0, comparator: .bytewise))
        try b.addRangeTombstone(Self.tombstone("ab", "b", 7))
        _ = try b.finish()
        let size = try Self.rangeDeletionBlockEnd(sink.bytes) - TableFormat.blockTrailerSize
        #expect(Array(sink.bytes[0..<size]) == [0x00, 0x0a, 0x01, 0x61, 0x62, 0x02, 0x07, 0, 0, 0, 0, 0, 0, 0x62,
                                                 0, 0, 0, 0, 1, 0, 0, 0])
        #expect(sink.bytes[size] == 0)  // stored raw
    }

    static func rangeDeletionBlockEnd(_ bytes: [UInt8]) throws -> Int {
        let footer = try bytes.withUnsafeBytes {
            try TableFooter.decode(UnsafeRawBufferPointer(rebasing: $0[($0.count - TableFormat.footerSize)...]), path: "t", offset: 0)
        }
        let file = TableTestSource(bytes)
        let meta = try BlockReader.read(file, path: "t", handle: footer.metaIndex, dataEnd: UInt64(bytes.count - TableFormat.footerSize),
                                        verifyChecksum: true)
        var cursor = BlockCursor(order: .bytewise)
        cursor.reset(meta)
        cursor.seekToFirst()
        while cursor.isValid {
            if String(decoding: cursor.key, as: UTF8.self) == TableFormat.rangeDeletionBlockName {
                let h = BlockHandle.decodeExactly(cursor.value)!
                #expect(h.offset == 0)
                return Int(h.size) + TableFormat.blockTrailerSize
            }
            cursor.next()
        }
        Issue.record("no range-deletion block")
        return 0
    }

    @Test func unsortedOrEmptyTombstonesInABlockAreCorruption() throws {
        // A well-checksummed block with entries out of order: built by hand.
        for entries in [[("c", "d", UInt64(5)), ("a", "b", UInt64(5))], [("c", "c", UInt64(5))]] {
            var block = BlockBuilder(restartInterval: 1)
            for (b, e, s) in entries {
                makeInternalKey(utf8(b), s, .rangeDeletion).withUnsafeBytes { k in utf8(e).withUnsafeBytes { block.add(k, $0) } }
            }
            block.finish()
            let bytes = Self.tableWithRawRangeDeletionBlock(block.buffer, count: UInt64(entries.count))
            #expect(throws: StrataError.self) { try TableTests.open(bytes) }
            do { _ = try TableTests.open(bytes) } catch let e as StrataError { #expect(e.kind == .corruption) }
        }
    }

    /// A table whose only meta blocks are the given range-deletion block and
    /// properties claiming `count` tombstones.
    static func tableWithRawRangeDeletionBlock(_ block: [UInt8], count: UInt64) -> [UInt8] {
        var out: [UInt8] = []
        func write(_ b: [UInt8]) -> BlockHandle {
            let h = BlockHandle(offset: UInt64(out.count), size: UInt64(b.count))
            var crc = CRC32C.checksum(b)
            crc = [UInt8(0)].withUnsafeBytes { CRC32C.extend(crc, $0) }
            out.append(contentsOf: b)
            out.append(0)
            out.appendFixed32(CRC32C.mask(crc))
            return h
        }
        let rangeDel = write(block)
        var props = TableProperties()
        props.numRangeDeletions = count
        let propsHandle = write(props.encodeBlock())
        var meta = BlockBuilder(restartInterval: 1)
        for (name, h) in [(TableFormat.propertiesBlockName, propsHandle), (TableFormat.rangeDeletionBlockName, rangeDel)] {
            var v: [UInt8] = []
            h.encode(into: &v)
            utf8(name).withUnsafeBytes { k in v.withUnsafeBytes { meta.add(k, $0) } }
        }
        meta.finish()
        let metaHandle = write(meta.buffer)
        var index = BlockBuilder(restartInterval: 1)
        index.finish()
        let indexHandle = write(index.buffer)
        out.append(contentsOf: TableFooter(metaIndex: metaHandle, index: indexHandle).encode())
        return out
    }

    // MARK: Database

    static func key(_ i: Int) -> [UInt8] { utf8(String(format: "k%03d", i)) }

    /// Live keys as the iterator sees them, both directions, checked equal.
    static func scan(_ db: Database, _ options: ReadOptions = ReadOptions()) throws -> [[UInt8]] {
        let it = try db.makeIterator(options: options)
        var forward: [[UInt8]] = []
        it.seekToFirst()
        while it.isValid { forward.append(it.key); it.next() }
        try it.checkStatus()
        var backward: [[UInt8]] = []
        it.seekToLast()
        while it.isValid { backward.append(it.key); it.prev() }
        try it.checkStatus()
        #expect(forward == backward.reversed(), "forward and reverse scans disagree")
        return forward
    }

    enum Stage: CaseIterable { case memtable, flushed, reopened, dataFlushedTombstoneInMemtable }

    @Test(arguments: Stage.allCases)
    func deleteRangeHidesKeysEverywhere(stage: Stage) throws {
        let dir = TempDir("rangedel")
        defer { dir.cleanup() }
        var db = try Database.open(at: dir.path)
        for i in 0..<100 { try db.put(Self.key(i), utf8("v\(i)")) }
        if stage == .dataFlushedTombstoneInMemtable { try db.flush() }
        try db.deleteRange(from: Self.key(20), to: Self.key(50))
        try db.deleteRange(from: Self.key(40), to: Self.key(60))  // overlaps the first
        switch stage {
        case .memtable, .dataFlushedTombstoneInMemtable: break
        case .flushed: try db.flush()
        case .reopened:
            try db.close()
            db = try Database.open(at: dir.path)
        }
        let live = (0..<20).map(Self.key) + (60..<100).map(Self.key)
        for i in 0..<100 {
            #expect(try db.get(Self.key(i)) == (i < 20 || i >= 60 ? utf8("v\(i)") : nil), "\(stage) get \(i)")
        }
        #expect(try Self.scan(db) == live)
        #expect(try Self.scan(db, ReadOptions(lowerBound: Self.key(25), upperBound: Self.key(65))) == (60..<65).map(Self.key))
        #expect(try Self.scan(db, ReadOptions(lowerBound: Self.key(15), upperBound: Self.key(55))) == (15..<20).map(Self.key))
        #expect(try Self.scan(db, ReadOptions(lowerBound: Self.key(30), upperBound: Self.key(45))) == [])

        let it = try db.makeIterator()
        it.seek(Self.key(30))
        #expect(it.isValid && it.key == Self.key(60))
        it.prev()
        #expect(it.isValid && it.key == Self.key(19))
        it.next()
        #expect(it.isValid && it.key == Self.key(60))
        it.seekForPrev(Self.key(59))
        #expect(it.isValid && it.key == Self.key(19))
        it.next()
        #expect(it.isValid && it.key == Self.key(60))
        it.seekForPrev(Self.key(60))
        #expect(it.isValid && it.key == Self.key(60))

        // A put after the delete is visible again, in every source.
        try db.put(Self.key(33), utf8("back"))
        #expect(try db.get(Self.key(33)) == utf8("back"))
        #expect(try Self.scan(db) == (0..<20).map(Self.key) + [Self.key(33)] + (60..<100).map(Self.key))
        try db.flush()
        #expect(try db.get(Self.key(33)) == utf8("back"))
        #expect(try Self.scan(db) == (0..<20).map(Self.key) + [Self.key(33)] + (60..<100).map(Self.key))
        try db.close()
    }

    @Test func snapshotsSeeOnlyOlderTombstones() throws {
        let dir = TempDir("rangedel-snap")
        defer { dir.cleanup() }
        let db = try Database.open(at: dir.path)
        for i in 0..<10 { try db.put(Self.key(i), utf8("a")) }
        let before = db.snapshot()
        try db.deleteRange(from: Self.key(2), to: Self.key(8))
        let between = db.snapshot()
        try db.put(Self.key(5), utf8("b"))
        let afterPut = db.snapshot()
        try db.deleteRange(from: Self.key(0), to: Self.key(6))
        for round in 0..<2 {
            #expect(try Self.scan(db, ReadOptions(snapshot: before)) == (0..<10).map(Self.key), "round \(round)")
            #expect(try db.get(Self.key(3), options: ReadOptions(snapshot: before)) == utf8("a"))
            #expect(try Self.scan(db, ReadOptions(snapshot: between)) == [0, 1, 8, 9].map(Self.key))
            #expect(try db.get(Self.key(5), options: ReadOptions(snapshot: between)) == nil)
            #expect(try Self.scan(db, ReadOptions(snapshot: afterPut)) == [0, 1, 5, 8, 9].map(Self.key))
            #expect(try db.get(Self.key(5), options: ReadOptions(snapshot: afterPut)) == utf8("b"))
            #expect(try Self.scan(db) == [8, 9].map(Self.key))
            #expect(try db.get(Self.key(5)) == nil)
            try db.flush()  // the same answers from a table
        }
        try db.close()
    }

    @Test func tombstoneOnlyMemtableFlushesToATable() throws {
        let dir = TempDir("rangedel-only")
        defer { dir.cleanup() }
        var db = try Database.open(at: dir.path)
        for i in 0..<10 { try db.put(Self.key(i), utf8("x")) }
        try db.flush()
        try db.deleteRange(from: Self.key(3), to: Self.key(7))
        try db.flush()
        #expect(db.property("strata.num-files-at-level0") == "2")
        let tables = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".sst") }.sorted()
        let newest = try TableReader.open(file: POSIXFileSystem().openForReading(at: dir.file(tables.last!)),
                                          path: tables.last!, fileNumber: 0, cache: nil, comparator: .bytewise)
        #expect(newest.properties.numEntries == 0)
        #expect(newest.rangeTombstones.map(\.begin) == [Self.key(3)])
        try db.close()
        db = try Database.open(at: dir.path)
        #expect(try Self.scan(db) == [0, 1, 2, 7, 8, 9].map(Self.key))
        #expect(try db.get(Self.key(4)) == nil)
        // An empty range is a no-op that writes nothing.
        let last = db.property("strata.last-sequence")
        try db.deleteRange(from: Self.key(9), to: Self.key(1))
        try db.deleteRange(from: Self.key(9), to: Self.key(9))
        #expect(db.property("strata.last-sequence") == last)
        #expect(try Self.scan(db) == [0, 1, 2, 7, 8, 9].map(Self.key))
        try db.close()
    }

    @Test func deleteRangeInABatchIsAtomicWithPuts() throws {
        let dir = TempDir("rangedel-batch")
        defer { dir.cleanup() }
        let db = try Database.open(at: dir.path)
        for i in 0..<10 { try db.put(Self.key(i), utf8("x")) }
        var b = WriteBatch()
        b.deleteRange(from: Self.key(0), to: Self.key(10))
        b.put(Self.key(4), utf8("kept"))  // later record, later sequence: survives
        try db.write(b)
        #expect(try Self.scan(db) == [Self.key(4)])
        #expect(try db.get(Self.key(4)) == utf8("kept"))
        try db.close()
    }

    /// A writer alternates "put all 40 keys with generation g" and "delete
    /// the whole range" while flushes switch memtables; readers must always
    /// see one whole generation or nothing, in scans both ways and in gets
    /// under a snapshot.
    @Test func readersSeeWholeBatchesWhileRangesAreDeleted() throws {
        let dir = TempDir("rangedel-conc")
        defer { dir.cleanup() }
        var o = Options()
        o.writeBufferSize = 32 << 10
        let db = try Database.open(at: dir.path, options: o)
        let failures = Locked<[String]>([])
        let done = Atomic<Bool>(false)
        let group = DispatchGroup()
        group.enter()
        Thread {
            defer { group.leave(); done.store(true, ordering: .releasing) }
            do {
                for g in 0..<400 {
                    var b = WriteBatch()
                    if g % 2 == 0 {
                        for i in 0..<40 { b.put(Self.key(i), utf8("g\(g)") + [UInt8](repeating: 0x2e, count: 100)) }
                    } else {
                        b.deleteRange(from: Self.key(0), to: Self.key(40))
                    }
                    try db.write(b)
                    if g % 50 == 49 { try db.flush() }
                }
            } catch {
                failures.withLock { $0.append("writer: \(error)") }
            }
        }.start()
        for r in 0..<2 {
            group.enter()
            Thread {
                defer { group.leave() }
                while !done.load(ordering: .acquiring) {
                    do {
                        let snap = db.snapshot()
                        let it = try db.makeIterator(options: ReadOptions(snapshot: snap))
                        var values: [[UInt8]] = []
                        if r == 0 {
                            it.seekToFirst()
                            while it.isValid { values.append(it.value); it.next() }
                        } else {
                            it.seekToLast()
                            while it.isValid { values.append(it.value); it.prev() }
                        }
                        try it.checkStatus()
                        let gets = try (0..<40).map { try db.get(Self.key($0), options: ReadOptions(snapshot: snap)) }
                        let whole = values.isEmpty || (values.count == 40 && Set(values).count == 1)
                        let getsAgree = values.isEmpty ? gets.allSatisfy { $0 == nil } : gets.allSatisfy { $0 == values[0] }
                        if !whole || !getsAgree {
                            failures.withLock { $0.append("reader \(r): \(values.count) keys, \(Set(values).count) generations, gets agree: \(getsAgree)") }
                            return
                        }
                    } catch {
                        failures.withLock { $0.append("reader \(r): \(error)") }
                        return
                    }
                }
            }.start()
        }
        group.wait()
        #expect(failures.withLock { $0 } == [])
        try db.close()
    }

    // MARK: No crawling

    /// Counts steps taken through an internal iterator.
    final class CountingIterator: InternalIterator {
        let inner: any InternalIterator
        var steps = 0
        init(_ inner: any InternalIterator) { self.inner = inner }
        var isValid: Bool { inner.isValid }
        func seekToFirst() { inner.seekToFirst() }
        func seekToLast() { inner.seekToLast() }
        func seek(_ target: UnsafeRawBufferPointer) { inner.seek(target) }
        func next() { steps += 1; inner.next() }
        func prev() { steps += 1; inner.prev() }
        var key: UnsafeRawBufferPointer { inner.key }
        var value: UnsafeRawBufferPointer { inner.value }
        func status() -> StrataError? { inner.status() }
    }

    /// 2000 keys of which all but the ends are under one tombstone: both
    /// scans visit a handful of entries, not the deleted ones.
    @Test func iteratorJumpsOverADeletedRange() throws {
        let old = Memtable(comparator: .bytewise)
        for i in 0..<2000 {
            let k = Self.key(i + 1000)  // 4-digit keys
            k.withUnsafeBytes { kp in utf8("v").withUnsafeBytes { old.add(sequence: UInt64(i + 1), kind: .value, key: kp, value: $0) } }
        }
        let newer = Memtable(comparator: .bytewise)
        Self.key(1001).withUnsafeBytes { b in Self.key(2999).withUnsafeBytes { newer.add(sequence: 5000, kind: .rangeDeletion, key: b, value: $0) } }
        // A newer put inside the range stays visible.
        Self.key(2500).withUnsafeBytes { k in utf8("new").withUnsafeBytes { newer.add(sequence: 5001, kind: .value, key: k, value: $0) } }
        let counted = CountingIterator(old.makeIterator())
        let merging = MergingIterator([newer.makeIterator(), counted], comparator: .bytewise, maxSequences: [newer.maxPointSequence, old.maxPointSequence])
        let cursor = RangeTombstoneCursor(newer.rangeTombstoneFragments()!, snapshot: 6000)
        let it = Iterator(merging: merging, tombstones: [cursor], comparator: .bytewise, sequence: 6000, lowerBound: nil, upperBound: nil, pins: [])
        var keys: [[UInt8]] = []
        it.seekToFirst()
        while it.isValid { keys.append(it.key); it.next() }
        #expect(keys == [Self.key(1000), Self.key(2500), Self.key(2999)])
        #expect(counted.steps < 20, "forward scan stepped \(counted.steps) times")
        counted.steps = 0
        keys = []
        it.seekToLast()
        while it.isValid { keys.append(it.key); it.prev() }
        #expect(keys == [Self.key(2999), Self.key(2500), Self.key(1000)])
        #expect(counted.steps < 20, "reverse scan stepped \(counted.steps) times")
    }
}
