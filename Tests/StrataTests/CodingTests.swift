import Testing
import CStrataSupport
import StrataTestSupport
@testable import Strata

@Suite(.offCooperativePool) struct CodingTests {
    @Test func varintRoundTrip() {
        var buf = [UInt8]()
        let values: [UInt64] = [0, 1, 127, 128, 300, 16383, 16384, UInt64(UInt32.max), UInt64.max]
        for v in values { buf.appendVarint64(v) }
        buf.withUnsafeBytes { p in
            var r = ByteReader(p)
            for v in values { #expect(r.readVarint64() == v) }
            #expect(r.isAtEnd)
            #expect(r.readVarint64() == nil)
        }
    }

    /// compareBytes compares short keys a word at a time: every length
    /// around the word and 32-byte boundaries, differences in every byte
    /// (high bit set or not), against the standard library's byte order.
    @Test func compareBytesMatchesLexicographicOrder() {
        let seed = UInt64.random(in: 0...UInt64.max)
        print("compareBytesMatchesLexicographicOrder seed \(seed)")
        var rng = SeededRandom(seed: seed)
        func expected(_ a: [UInt8], _ b: [UInt8]) -> Int {
            a == b ? 0 : (a.lexicographicallyPrecedes(b) ? -1 : 1)
        }
        for _ in 0..<20_000 {
            let n = Int.random(in: 0...40, using: &rng)
            let a = (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) }
            var b = a
            switch Int.random(in: 0..<4, using: &rng) {
            case 0 where n > 0: b[Int.random(in: 0..<n, using: &rng)] ^= UInt8.random(in: 1...255, using: &rng)
            case 1 where n > 0: b.removeLast(Int.random(in: 1...n, using: &rng))
            case 2: b.append(contentsOf: (0..<Int.random(in: 1...9, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) })
            default: break
            }
            let got = a.withUnsafeBytes { pa in b.withUnsafeBytes { pb in compareBytes(pa, pb) } }
            let reverse = a.withUnsafeBytes { pa in b.withUnsafeBytes { pb in compareBytes(pb, pa) } }
            #expect(got == expected(a, b), "seed \(seed): \(a) vs \(b)")
            #expect(reverse == -got)
        }
        // A difference only in the high bit: a signed compare would get this wrong.
        let low: [UInt8] = Array(repeating: 0x01, count: 16), high = low.enumerated().map { $0.offset == 9 ? 0x81 : $0.element }
        #expect(compareBytes(low, high) == -1)
        #expect(compareBytes(high, low) == 1)
    }

    @Test func truncatedVarintIsNil() {
        let bytes: [UInt8] = [0x80, 0x80]
        bytes.withUnsafeBytes { p in
            var r = ByteReader(p)
            #expect(r.readVarint64() == nil)
        }
    }

    @Test func crc32cKnownVectors() {
        // RFC 3720 test vectors.
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8a91_36aa)
        #expect(CRC32C.checksum([UInt8](repeating: 0xff, count: 32)) == 0x62a8_ab43)
        #expect(CRC32C.checksum((0..<32).map { UInt8($0) }) == 0x46dd_794e)
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xe306_9283)
    }

    /// The hardware path runs three lanes of 1024 or 128 bytes on long
    /// inputs and joins them; lengths around every lane boundary, at every
    /// alignment, from a nonzero starting CRC, must agree with the portable
    /// one-byte-at-a-time tables.
    @Test func crc32cHardwareMatchesPortable() {
        var rng = SystemRandomNumberGenerator()
        let lengths = [0, 1, 7, 8, 9, 23, 24, 25, 100, 383, 384, 385, 391, 3071, 3072, 3073, 3455, 3456, 3457,
                       4096, 4099, 6144, 9000, 70_001]
        let data = (0..<(70_001 + 8)).map { _ in UInt8.random(in: 0...255, using: &rng) }
        data.withUnsafeBytes { all in
            for len in lengths {
                for start in 0..<8 {
                    let p = all.baseAddress! + start
                    let seed = UInt32(truncatingIfNeeded: len &* 2_654_435_761 &+ start)
                    #expect(strata_crc32c_extend(seed, p, len) == strata_crc32c_extend_portable(seed, p, len), "length \(len), start \(start)")
                }
            }
        }
        #expect(CRC32C.checksum([UInt8](repeating: 0x5a, count: 4096)) == strata_crc32c_extend_portable(0, [UInt8](repeating: 0x5a, count: 4096), 4096))
    }

    @Test func crcMaskRoundTrip() {
        for v: UInt32 in [0, 1, 0xdead_beef, UInt32.max] {
            #expect(CRC32C.unmask(CRC32C.mask(v)) == v)
            #expect(CRC32C.mask(v) != v)
        }
    }

    @Test func writeBatchRoundTrip() throws {
        var b = WriteBatch()
        b.put([1, 2], [3])
        b.delete([])
        b.deleteRange(from: [0], to: [9])
        let enc = b.encoded(sequence: 42)
        let d = try WriteBatch(decoding: enc)
        #expect(d.count == 3)
        #expect(d.sequence == 42)
    }

    @Test func writeBatchRejectsEveryTruncation() {
        var b = WriteBatch()
        b.put([1, 2], [3, 4, 5])
        b.delete([7])
        let enc = b.encoded(sequence: 1)
        for cut in 0..<enc.count {
            #expect(throws: StrataError.self) { try WriteBatch(decoding: Array(enc[0..<cut])) }
        }
    }

    @Test func internalKeyOrder() {
        let a = makeInternalKey([1], 5, .value)
        let b = makeInternalKey([1], 4, .value)
        let c = makeInternalKey([2], 9, .value)
        #expect(compareInternalKeys(a, b) < 0)
        #expect(compareInternalKeys(b, c) < 0)
        #expect(compareInternalKeys(a, a) == 0)
    }
}
