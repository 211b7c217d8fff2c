import Testing
@testable import Strata

/// The restart-key sample that narrows seeks in large index blocks must
/// never change an answer: keys sharing long prefixes, keys that tie on
/// the 8 packed bytes, targets outside the block's common prefix.
@Suite(.offCooperativePool) struct RestartKeySampleTests {
    /// User key: a shared namespace, then `i` as 8 big-endian bytes, then
    /// (for some keys) a tail, so runs of keys tie on the packed bytes.
    static func userKey(_ i: Int, tail: Int) -> [UInt8] {
        var k = Array("queue:orders:".utf8)
        let v = UInt64(i)
        for s in stride(from: 56, through: 0, by: -8) { k.append(UInt8(truncatingIfNeeded: v >> UInt64(s))) }
        if tail > 0 { k.append(contentsOf: [UInt8](repeating: UInt8(tail), count: tail)) }
        return k
    }

    /// Sorted internal keys: groups of keys equal in their first 8 bytes
    /// after the prefix, told apart only by their tails.
    static func keys() -> [[UInt8]] {
        var out: [[UInt8]] = []
        for i in 0..<3000 {
            let ties = i % 7 == 0 ? 5 : 1
            for t in 0..<ties { out.append(makeInternalKey(userKey(i * 4, tail: t), 7, .value)) }
        }
        return out
    }

    func block(_ keys: [[UInt8]]) throws -> Block {
        var b = BlockBuilder(restartInterval: 1)
        for k in keys { k.withUnsafeBytes { kb in [UInt8(1)].withUnsafeBytes { b.add(kb, $0) } } }
        b.finish()
        return try Block.copying(b.buffer)
    }

    /// Where a plain seek and a sample-narrowed seek land for `target`.
    func positions(_ block: Block, _ sample: RestartKeySample, _ target: [UInt8]) -> ([UInt8]?, [UInt8]?) {
        var plain = BlockCursor(order: .bytewiseInternalKey)
        plain.reset(block)
        var narrowed = BlockCursor(order: .bytewiseInternalKey)
        narrowed.reset(block)
        target.withUnsafeBytes { t in
            plain.seek(t)
            narrowed.seek(t, restarts: sample.restartRange(for: UnsafeRawBufferPointer(rebasing: t[0..<(t.count - 8)])))
        }
        return (plain.isValid ? plain.key.array : nil, narrowed.isValid ? narrowed.key.array : nil)
    }

    @Test func narrowedSeekLandsWherePlainSeekDoes() throws {
        let keys = Self.keys()
        let block = try self.block(keys)
        var cursor = BlockCursor(order: .bytewiseInternalKey)
        cursor.reset(block)
        let built = cursor.sampleRestartKeys()
        let sample = try #require(built)
        var targets: [[UInt8]] = []
        for i in -2..<(3000 * 4 + 3) {
            for tail in [0, 1, 3, 9] {
                targets.append(makeInternalKey(Self.userKey(max(0, i), tail: tail), 8, .forSeek))
                targets.append(makeInternalKey(Self.userKey(max(0, i), tail: tail), 0, .forSeek))
            }
        }
        targets.append(makeInternalKey(Array("queue:orders".utf8), 8, .forSeek))   // shorter than the prefix
        targets.append(makeInternalKey(Array("queue:ordert".utf8), 8, .forSeek))   // above every key
        targets.append(makeInternalKey(Array("a".utf8), 8, .forSeek))              // below every key
        targets.append(makeInternalKey([], 8, .forSeek))
        var landed = 0
        for t in targets {
            let (plain, narrowed) = positions(block, sample, t)
            #expect(plain == narrowed, "target \(t)")
            if plain != nil { landed += 1 }
        }
        #expect(landed > targets.count / 2)
        // The sample actually narrows: a key in the middle gets a short range.
        let mid = Self.userKey(6000, tail: 0)
        let found = mid.withUnsafeBytes { sample.restartRange(for: $0) }
        let range = try #require(found)
        #expect(range.count <= 2 * RestartKeySample.stride + 1)
    }

    @Test func smallOrCustomOrderBlocksGetNoSample() throws {
        let small = try self.block(Array(Self.keys().prefix(20)))
        var cursor = BlockCursor(order: .bytewiseInternalKey)
        cursor.reset(small)
        let none = cursor.sampleRestartKeys()
        #expect(none == nil)
        var reverse = BlockCursor(order: .internalKey(.reverseBytewise))
        reverse.reset(try self.block(Self.keys()))
        let reversed = reverse.sampleRestartKeys()
        #expect(reversed == nil)
    }

    /// A table large enough to get a sample answers every lookup as before.
    @Test(arguments: [Compression.none, Compression.lz4])
    func tableLookupsWithSample(compression: Compression) throws {
        let keys = Self.keys()
        var es: [TableEntry] = []
        for (i, k) in keys.enumerated() { es.append((k, TableTestKeys.value(i, length: 30))) }
        let (bytes, _) = try TableTests.build(es, options: TableBuilderOptions(blockSize: 128, compression: compression, comparator: .bytewise))
        let t = try TableTests.open(bytes)
        #expect(t.indexSample != nil)
        for (i, k) in keys.enumerated() {
            let user = Array(k[0..<(k.count - 8)])
            #expect(try TableTests.get(t, user, 100) == .found(kind: .value, sequence: 7, value: TableTestKeys.value(i, length: 30)))
            #expect(try TableTests.get(t, user, 6) == .notFound)
            #expect(try TableTests.get(t, user + [0], 100) == .notFound)
        }
        for i in stride(from: 1, to: 12000, by: 4) {
            #expect(try TableTests.get(t, Self.userKey(i, tail: 0), 100) == .notFound)
        }
        #expect(try TableTests.get(t, Array("queue:orders".utf8), 100) == .notFound)
        #expect(try TableTests.get(t, Array("zzz".utf8), 100) == .notFound)
    }
}
