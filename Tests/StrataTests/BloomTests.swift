import Testing
@testable import Strata

@Suite(.offCooperativePool) struct BloomTests {
    static func key(_ i: Int) -> [UInt8] { Array("user-\(i)".utf8) }

    static func filter(_ keys: [[UInt8]], bitsPerKey: Int) throws -> BloomFilter {
        var b = BloomFilterBuilder(bitsPerKey: bitsPerKey)
        for k in keys { k.withUnsafeBytes { b.add($0) } }
        let bytes = b.finish()
        return try BloomFilter(block: bytes.withUnsafeBytes { try Block.copying($0, hasEntries: false) })
    }

    @Test(arguments: [100, 10_000, 50_000])
    func noFalseNegativesAndLowFalsePositiveRate(count: Int) throws {
        let keys = (0..<count).map(Self.key)
        let f = try Self.filter(keys, bitsPerKey: 10)
        for k in keys { #expect(k.withUnsafeBytes { f.mayContain($0) }) }
        var positives = 0
        let probes = 20_000
        for i in 0..<probes where Self.key(count + i).withUnsafeBytes({ f.mayContain($0) }) { positives += 1 }
        let rate = Double(positives) / Double(probes)
        #expect(rate < 0.02, "false-positive rate \(rate)")
    }

    @Test func binaryAndEmptyKeys() throws {
        var rng = SeededRandom(seed: 3)
        let keys: [[UInt8]] = [[]] + (0..<2000).map { i in (0..<(i % 37)).map { _ in UInt8.random(in: 0...255, using: &rng) } }
        let f = try Self.filter(keys, bitsPerKey: 6)
        for k in keys { #expect(k.withUnsafeBytes { f.mayContain($0) }) }
    }

    @Test func probeCounts() {
        #expect(BloomFilter.probeCount(bitsPerKey: 10) == 7)
        #expect(BloomFilter.probeCount(bitsPerKey: 1) == 1)
        #expect(BloomFilter.probeCount(bitsPerKey: 100) == 30)
    }

    @Test func hashSeparatesLengthsAndBytes() {
        var seen = Set<UInt64>()
        for n in 0..<32 {
            for b: UInt8 in [0, 1, 0xff] {
                let k = [UInt8](repeating: b, count: n)
                seen.insert(k.withUnsafeBytes { bloomHash($0) })
            }
        }
        #expect(seen.count == 32 * 3 - 2)   // the three empty keys are one key
    }

    @Test func malformedFilterBlockIsCorruption() throws {
        var b = BloomFilterBuilder(bitsPerKey: 10)
        Array("a".utf8).withUnsafeBytes { b.add($0) }
        let good = b.finish()
        var badProbes = good
        badProbes[good.count - 5] = 0
        var badLines = good
        badLines[good.count - 4] = 9
        for bytes in [badProbes, badLines, Array(good.dropFirst()), [1, 2, 3]] {
            #expect(tableTestErrorKind {
                _ = try BloomFilter(block: bytes.withUnsafeBytes { try Block.copying($0, hasEntries: false) })
            } == .corruption)
        }
    }
}
