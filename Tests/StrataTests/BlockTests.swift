import Testing
@testable import Strata

/// Helpers shared by the table-format tests.
enum TableTestKeys {
    /// User key `i`, with a varying length so prefixes differ in size.
    static func userKey(_ i: Int) -> [UInt8] {
        var k = Array("key".utf8)
        let digits = Array(String(i).utf8)
        k.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: max(0, 7 - digits.count)))
        k.append(contentsOf: digits)
        if i % 3 == 0 { k.append(contentsOf: Array("-suffix".utf8)) }
        return k
    }

    static func value(_ i: Int, length: Int = 20) -> [UInt8] {
        (0..<length).map { UInt8(truncatingIfNeeded: i &* 31 &+ $0 &* 7) }
    }
}

/// The kind of StrataError `body` throws; nil when it does not throw.
/// Any other error type fails the test.
func tableTestErrorKind(_ body: () throws -> Void) -> StrataError.Kind? {
    do {
        try body()
        return nil
    } catch let e as StrataError {
        return e.kind
    } catch {
        Issue.record("unexpected error \(error)")
        return nil
    }
}

@Suite(.offCooperativePool) struct BlockTests {
    /// Sorted internal keys: several versions of some user keys.
    static func entries(_ n: Int) -> [(key: [UInt8], value: [UInt8])] {
        var out: [(key: [UInt8], value: [UInt8])] = []
        var i = 0
        while out.count < n {
            let uk = TableTestKeys.userKey(i)
            let versions = i % 5 == 0 ? 3 : 1
            for v in 0..<versions where out.count < n {
                out.append((makeInternalKey(uk, UInt64(1000 - v), v == 1 ? .deletion : .value), TableTestKeys.value(i, length: i % 7 * 5)))
            }
            i += 2
        }
        return out.sorted { compareInternalKeys($0.key, $1.key) < 0 }
    }

    static func build(_ entries: [(key: [UInt8], value: [UInt8])], restartInterval: Int) throws -> Block {
        var b = BlockBuilder(restartInterval: restartInterval)
        for e in entries { e.key.withUnsafeBytes { k in e.value.withUnsafeBytes { v in b.add(k, v) } } }
        b.finish()
        return try Block.copying(b.buffer)
    }

    @Test(arguments: [1, 2, 3, 16, 1000])
    func iterateForwardBackwardAndSeek(restartInterval: Int) throws {
        let es = Self.entries(500)
        let block = try Self.build(es, restartInterval: restartInterval)
        let it = BlockIterator(block: block, order: .bytewiseInternalKey)

        it.seekToFirst()
        for e in es {
            #expect(it.isValid)
            #expect(it.key.array == e.key)
            #expect(it.value.array == e.value)
            it.next()
        }
        #expect(!it.isValid)

        it.seekToLast()
        for e in es.reversed() {
            #expect(it.isValid)
            #expect(it.key.array == e.key)
            #expect(it.value.array == e.value)
            it.prev()
        }
        #expect(!it.isValid)
        #expect(it.status() == nil)

        for (i, e) in es.enumerated() {
            e.key.withUnsafeBytes { it.seek($0) }
            #expect(it.key.array == e.key)
            // A target between this key and the next lands on the next one.
            let target = makeInternalKey(Array(e.key.dropLast(8)) + [0], maxSequenceNumber, .forSeek)
            target.withUnsafeBytes { it.seek($0) }
            if let expected = es[(i + 1)...].first(where: { compareInternalKeys($0.key, target) >= 0 }) {
                #expect(it.key.array == expected.key)
            } else {
                #expect(!it.isValid)
            }
        }
        makeInternalKey([0xff, 0xff], 1, .value).withUnsafeBytes { it.seek($0) }
        #expect(!it.isValid)
        makeInternalKey([], 1, .value).withUnsafeBytes { it.seek($0) }
        #expect(it.key.array == es[0].key)

        // Mixed directions from the middle.
        es[250].key.withUnsafeBytes { it.seek($0) }
        it.prev()
        #expect(it.key.array == es[249].key)
        it.next()
        it.next()
        #expect(it.key.array == es[251].key)
    }

    @Test func bytewiseOrderAndLongKeys() throws {
        var b = BlockBuilder(restartInterval: 4)
        var keys: [[UInt8]] = []
        for i in 0..<100 {
            // Long shared prefixes force the iterator's key buffer to grow.
            keys.append([UInt8](repeating: 7, count: 300 + i) + [UInt8(i)])
        }
        keys.sort { compareBytes($0, $1) < 0 }
        for k in keys { k.withUnsafeBytes { kp in k.withUnsafeBytes { b.add(kp, $0) } } }
        b.finish()
        let it = BlockIterator(block: try Block.copying(b.buffer), order: .bytewise)
        it.seekToFirst()
        for k in keys {
            #expect(it.key.array == k)
            #expect(it.value.array == k)
            it.next()
        }
        #expect(!it.isValid)
        for k in keys.dropFirst().reversed() {
            k.withUnsafeBytes { it.seek($0) }
            #expect(it.key.array == k)
            it.prev()
            it.next()
            #expect(it.key.array == k)
        }
    }

    @Test func emptyBlock() throws {
        var b = BlockBuilder(restartInterval: 16)
        b.finish()
        let it = BlockIterator(block: try Block.copying(b.buffer), order: .bytewiseInternalKey)
        it.seekToFirst()
        #expect(!it.isValid)
        it.seekToLast()
        #expect(!it.isValid)
        makeInternalKey([1], 1, .value).withUnsafeBytes { it.seek($0) }
        #expect(!it.isValid)
        #expect(it.status() == nil)
    }

    @Test func badRestartArrayIsCorruption() {
        let cases: [[UInt8]] = [
            [],
            [1, 0],
            [0, 0, 0, 0, 9, 0, 0, 0],                 // count larger than the block
            [1, 2, 3, 4, 0, 0, 0, 0],                 // entries but no restarts
            [1, 2, 3, 4, 2, 0, 0, 0, 1, 0, 0, 0],     // first restart not 0
            [1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0],  // not increasing
        ]
        for c in cases {
            #expect(tableTestErrorKind { _ = try Block.copying(c) } == .corruption)
        }
    }

    /// Damaged blocks (whose checksum was not checked) must never crash the
    /// iterator or hand out a malformed internal key.
    @Test func damagedBlocksNeverCrash() throws {
        let es = Self.entries(60)
        var b = BlockBuilder(restartInterval: 4)
        for e in es { e.key.withUnsafeBytes { k in e.value.withUnsafeBytes { v in b.add(k, v) } } }
        b.finish()
        let good = b.buffer
        var rng = SeededRandom(seed: 7)
        var variants: [[UInt8]] = []
        for i in 0..<good.count {
            var bad = good
            bad[i] ^= UInt8.random(in: 1...255, using: &rng)
            variants.append(bad)
        }
        for cut in stride(from: 0, to: good.count, by: 3) { variants.append(Array(good[0..<cut])) }
        let probe = makeInternalKey(TableTestKeys.userKey(30), 5, .value)
        for v in variants {
            guard let block = try? Block.copying(v) else { continue }
            let it = BlockIterator(block: block, order: .bytewiseInternalKey)
            var steps = 0
            it.seekToFirst()
            while it.isValid && steps < 1000 { #expect(it.key.count >= 8); it.next(); steps += 1 }
            it.seekToLast()
            steps = 0
            while it.isValid && steps < 1000 { #expect(it.key.count >= 8); it.prev(); steps += 1 }
            probe.withUnsafeBytes { it.seek($0) }
            if it.isValid { #expect(it.key.count >= 8) }
            if let e = it.status() { #expect(e.kind == .corruption) }
        }
    }
}
