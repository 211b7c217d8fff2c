import Foundation
import Synchronization
import Testing
@testable import Strata

/// `Database.catchUp()`: a long-lived read-only handle sees what the writer
/// did since (new records in the log, flushes, compactions that deleted the
/// tables it had open, families created and dropped), one consistent state
/// per family, and iterators made before keep their view.
@Suite(.offCooperativePool) struct ReadOnlyCatchUpTests {
    static func keys(_ db: Database, in family: ColumnFamily? = nil) throws -> [String] {
        let it = try db.makeIterator(in: family)
        it.seekToFirst()
        var out: [String] = []
        while it.isValid {
            out.append(String(decoding: it.key, as: UTF8.self))
            it.next()
        }
        try it.checkStatus()
        return out
    }

    @Test func seesTheWritersLogFlushesAndCompactions() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        var o = Options()
        o.writeBufferSize = 64 << 10
        let writer = try Database.open(at: dir.path, options: o)
        let sync = WriteOptions(commitMode: .syncDurable)
        for i in 0..<500 { try writer.put(utf8(String(format: "k%05d", i)), utf8("v\(i)")) }
        try writer.flush()
        let reader = try Database.openReadOnly(at: dir.path)
        #expect(try reader.catchUp() == false, "nothing changed, yet the view moved")

        // 1. A record in the writer's log only.
        try writer.put(utf8("late"), utf8("1"), options: sync)
        #expect(try reader.get(utf8("late")) == nil)
        #expect(try reader.catchUp())
        #expect(try reader.get(utf8("late")) == utf8("1"))

        // 2. Overwrites, deletes and a compaction that deletes every table
        //    the reader had open; an iterator made before keeps its view.
        let before = try reader.makeIterator()
        for i in 0..<3000 { try writer.put(utf8(String(format: "k%05d", i)), utf8("w\(i)")) }
        try writer.delete(utf8("k00007"), options: sync)
        try writer.compactRange(nil, nil)
        try writer.put(utf8("after-compaction"), utf8("x"), options: sync)
        #expect(try reader.catchUp())
        #expect(try reader.get(utf8("k00007")) == nil)
        #expect(try reader.get(utf8("k02999")) == utf8("w2999"))
        #expect(try reader.get(utf8("k00001")) == utf8("w1"))
        #expect(try reader.get(utf8("after-compaction")) == utf8("x"))
        #expect(try Self.keys(reader) == Self.keys(writer))
        before.seekToFirst()
        var old = 0
        while before.isValid {
            if before.key == utf8("k00001") { #expect(before.value == utf8("v1")) }
            old += 1
            before.next()
        }
        try before.checkStatus()
        #expect(old == 501, "the iterator made before the catch-up lost its view")
        #expect(try reader.catchUp() == false)
        try reader.close()
        try writer.close()
    }

    @Test func takesInCreatedFamiliesAndLetsGoOfDroppedOnes() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let writer = try Database.open(at: dir.path)
        let sync = WriteOptions(commitMode: .syncDurable)
        let gone = try writer.createColumnFamily("gone")
        try writer.put(utf8("g"), utf8("1"), in: gone, options: sync)
        let reader = try Database.openReadOnly(at: dir.path)
        let readerGone = try #require(reader.columnFamily("gone"))
        #expect(try reader.get(utf8("g"), in: readerGone) == utf8("1"))

        let fresh = try writer.createColumnFamily("fresh")
        try writer.put(utf8("f"), utf8("2"), in: fresh, options: sync)
        try writer.dropColumnFamily(gone)
        #expect(reader.columnFamily("fresh") == nil)
        #expect(try reader.catchUp())
        let readerFresh = try #require(reader.columnFamily("fresh"))
        #expect(try reader.get(utf8("f"), in: readerFresh) == utf8("2"))
        #expect(reader.columnFamily("gone") == nil)
        #expect(throws: StrataError.self) { _ = try reader.get(utf8("g"), in: readerGone) }
        #expect(Set(reader.columnFamilies.map(\.name)) == ["default", "fresh"])
        try reader.close()
        try writer.close()
    }

    @Test func onlyAReadOnlyHandleCatchesUp() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let writer = try Database.open(at: dir.path)
        do {
            try writer.catchUp()
            Issue.record("catchUp on a writable handle succeeded")
        } catch let e as StrataError {
            #expect(e.kind == .invalidArgument)
        }
        let reader = try Database.openReadOnly(at: dir.path)
        try reader.close()
        #expect(throws: StrataError.self) { try reader.catchUp() }
        try writer.close()
    }

    /// A writer thread commits pairs (a_i, b_i) in one batch each while it
    /// flushes and compacts; one long-lived reader catches up again and
    /// again. Every view is a prefix of the pairs with both halves of each,
    /// holds at least what was acknowledged before the catch-up began, and
    /// never goes back.
    @Test func everyCaughtUpViewIsAGrowingConsistentPrefix() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let writer = try PairWriter(at: dir.path)
        defer { writer.stop() }
        let reader = try Database.openReadOnly(at: dir.path)
        var views = 0, previous = 0
        while views < 25 || (writer.acknowledged < 3000 && !writer.isFinished) {
            let floor = writer.acknowledged
            try reader.catchUp()
            let a = try PairWriter.checkedPairs(in: reader, acknowledged: floor)
            #expect(a >= previous, "the view went back")
            previous = a
            views += 1
        }
        try reader.close()
        try writer.close()
    }
}

/// A database and a thread committing pairs (a_i, b_i) in one synced batch
/// each, with a small write buffer and tiny levels so it flushes and
/// compacts all the time: what a reader must see as consistent prefixes.
final class PairWriter: Sendable {
    let db: Database
    private let acknowledgedPair = Atomic<Int>(-1)
    private let stopping = Atomic<Bool>(false)
    private let finished = Atomic<Bool>(false)

    init(at path: String) throws {
        var o = Options()
        o.writeBufferSize = 32 << 10
        o.maxBytesForLevelBase = 128 << 10
        o.targetFileSizeBase = 32 << 10
        db = try Database.open(at: path, options: o)
        let value = [UInt8](repeating: 0x61, count: 200)
        Thread { [self] in
            var i = 0
            while !stopping.load(ordering: .relaxed) && i < 200_000 {
                var b = WriteBatch()
                let k = String(format: "%08d", i)
                b.put(utf8("a" + k), value)
                b.put(utf8("b" + k), value)
                do { try db.write(b, options: WriteOptions(commitMode: .syncDurable)) } catch { break }
                acknowledgedPair.store(i, ordering: .releasing)
                i += 1
            }
            finished.store(true, ordering: .releasing)
        }.start()
    }

    /// The newest pair acknowledged (-1: none yet).
    var acknowledged: Int { acknowledgedPair.load(ordering: .acquiring) }
    var isFinished: Bool { finished.load(ordering: .acquiring) }

    /// Stops the thread and waits for it.
    func stop() {
        stopping.store(true, ordering: .relaxed)
        while !isFinished { usleep(1000) }
    }

    func close() throws {
        stop()
        try db.close()
    }

    /// Checks that `reader`'s view holds a prefix of the pairs, both halves
    /// of each, and more than `acknowledged` of them; returns how many.
    static func checkedPairs(in reader: Database, acknowledged floor: Int) throws -> Int {
        var a: [String] = [], b: [String] = []
        let it = try reader.makeIterator()
        it.seekToFirst()
        while it.isValid {
            let k = String(decoding: it.key, as: UTF8.self)
            if k.hasPrefix("a") { a.append(String(k.dropFirst())) } else { b.append(String(k.dropFirst())) }
            it.next()
        }
        try it.checkStatus()
        #expect(a == b, "a view holds half of a batch")
        #expect(a.count > floor, "a view misses acknowledged writes: \(a.count) pairs, \(floor + 1) acknowledged")
        #expect(a == (0..<a.count).map { String(format: "%08d", $0) }, "a view is not a prefix")
        return a.count
    }
}
