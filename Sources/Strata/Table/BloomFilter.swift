/// A full-table bloom filter over user keys, laid out in 64-byte lines so a
/// lookup touches one cache line: the key's hash picks the line, then
/// `probes` bits inside that line's 512, each the top 9 bits of the hash
/// multiplied once more by an odd constant.
///
/// Block layout: `lines × 64 bytes of bits | probes (1 byte) | lines (fixed32)`.
struct BloomFilter: Sendable {
    static let lineBytes = 64
    static let lineBits = 512

    private let block: Block
    private let lines: UInt64
    private let probes: Int

    /// Wraps a filter block read from a table; `.corruption` when its
    /// parameters do not match its size.
    init(block: Block) throws {
        let n = block.size
        func bad(_ what: String) -> StrataError {
            StrataError(.corruption, "\(block.path): bad bloom filter block at offset \(block.fileOffset): \(what)")
        }
        guard n >= 5 else { throw bad("\(n) bytes is too short") }
        let probes = Int(block.base.load(fromByteOffset: n - 5, as: UInt8.self))
        let lines = Int(loadFixed32(block.base + (n - 4)))
        guard (1...30).contains(probes) else { throw bad("probe count \(probes)") }
        guard lines >= 1, lines * Self.lineBytes == n - 5 else { throw bad("\(lines) lines do not fill \(n) bytes") }
        self.block = block
        self.lines = UInt64(lines)
        self.probes = probes
    }

    /// False only when `userKey` was certainly not added.
    @inline(__always)
    func mayContain(_ userKey: UnsafeRawBufferPointer) -> Bool {
        Self.probe(bloomHash(userKey), lines: lines, probes: probes) { byte, mask in
            block.base.load(fromByteOffset: byte, as: UInt8.self) & mask != 0
        }
    }

    /// Number of probes for `bitsPerKey`: bitsPerKey × ln 2, clamped to 1…30.
    static func probeCount(bitsPerKey: Int) -> Int {
        min(30, max(1, Int((Double(bitsPerKey) * 0.6931).rounded())))
    }

    /// Visits the bits of `hash`: returns false as soon as `test` does.
    @inline(__always)
    static func probe(_ hash: UInt64, lines: UInt64, probes: Int, _ test: (Int, UInt8) -> Bool) -> Bool {
        let line = Int((UInt64(UInt32(truncatingIfNeeded: hash >> 32)) &* lines) >> 32)
        let lineStart = line * lineBytes
        // Each probe takes the top 9 bits of a fresh multiply of the hash;
        // this spreads bits inside the line better than adding a stride.
        var h = hash
        for _ in 0..<probes {
            h = h &* 0x9E37_79B9_7F4A_7C15
            let bit = Int(truncatingIfNeeded: h >> 55)
            if !test(lineStart + (bit >> 3), UInt8(1) << UInt8(bit & 7)) { return false }
        }
        return true
    }
}

/// Collects user-key hashes while a table is written and encodes the
/// filter block at the end.
struct BloomFilterBuilder {
    let bitsPerKey: Int
    private var hashes: [UInt64] = []

    init(bitsPerKey: Int) {
        self.bitsPerKey = bitsPerKey
    }

    var keyCount: Int { hashes.count }

    /// Adds a user key; consecutive versions of one key are added once.
    mutating func add(_ userKey: UnsafeRawBufferPointer) {
        let h = bloomHash(userKey)
        if hashes.last != h { hashes.append(h) }
    }

    /// The encoded filter block.
    func finish() -> [UInt8] {
        let totalBits = max(1, hashes.count) * bitsPerKey
        let lines = max(1, (totalBits + BloomFilter.lineBits - 1) / BloomFilter.lineBits)
        let probes = BloomFilter.probeCount(bitsPerKey: bitsPerKey)
        var out = [UInt8](repeating: 0, count: lines * BloomFilter.lineBytes)
        out.withUnsafeMutableBytes { bits in
            for h in hashes {
                _ = BloomFilter.probe(h, lines: UInt64(lines), probes: probes) { byte, mask in
                    bits[byte] |= mask
                    return true
                }
            }
        }
        out.append(UInt8(probes))
        out.appendFixed32(UInt32(lines))
        return out
    }
}
