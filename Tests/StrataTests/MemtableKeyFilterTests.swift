import Testing
@testable import Strata

/// The memtable's key filter may only ever say "maybe" for an added key;
/// its "no" must be rare enough to be worth a probe.
@Suite(.offCooperativePool) struct MemtableKeyFilterTests {
    static func key(_ i: Int) -> [UInt8] { Array("user-\(i)".utf8) }

    @Test func everyAddedKeyIsMaybeAndMostOthersAreNo() {
        // 1 MiB for 100k keys: ~84 bits per key.
        let filter = MemtableKeyFilter(bytes: 1 << 20)
        for i in 0..<100_000 { Self.key(i).withUnsafeBytes { filter.add(bloomHash($0)) } }
        for i in 0..<100_000 {
            #expect(Self.key(i).withUnsafeBytes { filter.mayContain(bloomHash($0)) }, "key \(i) lost")
        }
        var falsePositives = 0
        for i in 100_000..<200_000 where Self.key(i).withUnsafeBytes({ filter.mayContain(bloomHash($0)) }) {
            falsePositives += 1
        }
        #expect(falsePositives < 1_000, "\(falsePositives) false positives in 100,000")
    }

    @Test func aTinyFilterStillAnswersMaybeForAddedKeys() {
        let filter = MemtableKeyFilter(bytes: 1)
        #expect(filter.memoryUsage == 64)
        for i in 0..<1_000 { Self.key(i).withUnsafeBytes { filter.add(bloomHash($0)) } }
        for i in 0..<1_000 { #expect(Self.key(i).withUnsafeBytes { filter.mayContain(bloomHash($0)) }) }
    }

    /// The filter's size comes from the validated options: the ratio is
    /// clamped once, in `Options.validated()`, and the size follows it.
    @Test func sizeFollowsTheWriteBufferAndValidatedRatio() throws {
        func bytes(_ ratio: Double, writeBufferSize: Int = 64 << 20) throws -> Int {
            var o = Options()
            o.memtableBloomSizeRatio = ratio
            return try o.validated().memtableKeyFilterBytes(writeBufferSize: writeBufferSize)
        }
        #expect(try bytes(1.0 / 64) == 1 << 20)
        #expect(try bytes(0) == 0)
        #expect(try bytes(-1) == 0)
        #expect(try bytes(5) == 16 << 20)
        #expect(try bytes(.infinity) == 16 << 20)
        #expect(try bytes(0.01, writeBufferSize: 100) == 64)
        var nan = Options()
        nan.memtableBloomSizeRatio = .nan
        #expect(throws: StrataError.self) { try nan.validated() }
    }

    /// A memtable with a filter finds values and deletions (a deletion the
    /// filter missed would let an older value in a table show through)
    /// and reports absent keys as not found, with and without the filter.
    @Test(arguments: [0, 4096])
    func memtableAnswersAreUnchanged(filterBytes: Int) {
        let m = Memtable(comparator: .bytewise, keyFilterBytes: filterBytes)
        for i in 0..<5_000 {
            let k = Self.key(i)
            let v = Array("v\(i)".utf8)
            k.withUnsafeBytes { kb in v.withUnsafeBytes { m.add(sequence: UInt64(2 * i + 1), kind: .value, key: kb, value: $0) } }
            if i % 3 == 0 {
                k.withUnsafeBytes { m.add(sequence: UInt64(2 * i + 2), kind: .deletion, key: $0, value: UnsafeRawBufferPointer(start: nil, count: 0)) }
            }
        }
        for i in 0..<5_000 {
            let r = Self.key(i).withUnsafeBytes { m.get($0, snapshotSequence: .max >> 8) }
            #expect(r == (i % 3 == 0 ? .deleted : .found(Array("v\(i)".utf8))))
            #expect(Self.key(i + 5_000).withUnsafeBytes { m.get($0, snapshotSequence: .max >> 8) } == .notFound)
        }
    }

    /// Through the database: a key deleted in the memtable stays deleted
    /// over its value in a table, and the filter can be turned off.
    @Test(arguments: [1.0 / 64, 0])
    func deletionsInTheMemtableHideTableValues(ratio: Double) throws {
        let dir = TempDir("memfilter")
        defer { dir.cleanup() }
        var o = Options()
        o.logger.logLevel = .warning
        o.memtableBloomSizeRatio = ratio
        let db = try Database.open(at: dir.path, options: o)
        for i in 0..<2_000 { try db.put(Self.key(i), Array("old".utf8)) }
        try db.flush()
        for i in stride(from: 0, to: 2_000, by: 2) { try db.delete(Self.key(i)) }
        for i in stride(from: 1, to: 2_000, by: 4) { try db.put(Self.key(i), Array("new".utf8)) }
        for i in 0..<2_000 {
            let want: [UInt8]? = i % 2 == 0 ? nil : (i % 4 == 1 ? Array("new".utf8) : Array("old".utf8))
            #expect(try db.get(Self.key(i)) == want)
        }
        try db.close()
    }
}
