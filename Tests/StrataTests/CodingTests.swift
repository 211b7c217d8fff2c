import Testing
import CStrataSupport
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

    @Test func crc32cHardwareMatchesPortable() {
        var rng = SystemRandomNumberGenerator()
        for len in [0, 1, 7, 8, 9, 23, 24, 25, 100, 4096, 4099] {
            let data = (0..<len).map { _ in UInt8.random(in: 0...255, using: &rng) }
            data.withUnsafeBytes { p in
                #expect(strata_crc32c_extend(0, p.baseAddress, p.count) == strata_crc32c_extend_portable(0, p.baseAddress, p.count))
            }
        }
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
