/// Key and value generation matching db_bench: a key is the 8-byte
/// big-endian key number followed by '0' padding up to --key_size; values
/// are slices of a buffer of random bytes made compressible to
/// --compression_ratio by repeating each random run.

@inline(__always)
func encodeKey(_ k: UInt64, into key: inout [UInt8]) {
    key.withUnsafeMutableBytes { p in
        p.storeBytes(of: k.bigEndian, toByteOffset: 0, as: UInt64.self)
    }
}

/// A fast deterministic generator (SplitMix64).
struct SplitMix64 {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    @inline(__always)
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Precomputed compressible value bytes, handed out as consecutive slices.
/// The slices are made once (`values`, up to 4096 of them) and handed out
/// in turn, so a put pays no allocation or copy for its value, as db_bench's
/// and LevelDB's benches hand out a slice of one buffer: an `Array` copy
/// per put was a malloc, a memmove and a free on every write (perf).
final class ValueSource: Sendable {
    let data: [UInt8]
    let valueSize: Int
    private let values: [[UInt8]]

    init(valueSize: Int, compressionRatio: Double, seed: UInt64) {
        self.valueSize = valueSize
        var rng = SplitMix64(seed: seed)
        var out = [UInt8]()
        let total = max(1 << 20, valueSize * 4)
        out.reserveCapacity(total + 100)
        while out.count < total {
            // db_bench-like: a random piece of ratio × 100 printable bytes,
            // repeated to fill 100 bytes.
            let pieceLen = max(1, Int(100 * compressionRatio))
            var piece = [UInt8]()
            for _ in 0..<pieceLen { piece.append(UInt8(32 + rng.next() % 95)) }
            var filled = 0
            while filled < 100 {
                let n = min(pieceLen, 100 - filled)
                out.append(contentsOf: piece[0..<n])
                filled += n
            }
        }
        data = out
        // At most 4096 values and 16 MiB of them (large --value_size runs).
        let step = max(1, valueSize)
        let count = max(1, min(4096, (16 << 20) / step, (out.count - valueSize) / step + 1))
        values = (0..<count).map { i in Array(out[i * valueSize..<i * valueSize + valueSize]) }
    }

    /// The next value; `offset` is the caller's position in the turn.
    @inline(__always)
    func next(_ offset: inout Int) -> [UInt8] {
        if offset >= values.count || offset < 0 { offset = 0 }
        defer { offset += 1 }
        return values[offset]
    }
}
