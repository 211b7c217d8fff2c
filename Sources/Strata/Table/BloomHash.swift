/// The 64-bit hash bloom filters use for user keys: 8-byte words folded in
/// with multiply/xor-shift steps, then a full avalanche. Fast, and good
/// enough that filter probes behave like independent bits.
///
/// Stored filters depend on this exact function; changing it needs a new
/// filter block name.
@inline(__always)
func bloomHash(_ key: UnsafeRawBufferPointer) -> UInt64 {
    let m1: UInt64 = 0x9E37_79B9_7F4A_7C15
    let m2: UInt64 = 0xD6E8_FEB8_6659_FD93
    var h: UInt64 = 0x243F_6A88_85A3_08D3 ^ (UInt64(key.count) &* m2)
    var n = key.count
    guard n > 0, var p = key.baseAddress else { return avalanche(h) }
    while n >= 8 {
        var w = UInt64(littleEndian: p.loadUnaligned(as: UInt64.self)) &* m1
        w ^= w >> 29
        h = (h ^ w) &* m2
        h = (h << 23) | (h >> 41)
        p += 8
        n -= 8
    }
    if n > 0 {
        var w: UInt64 = 0
        var shift: UInt64 = 0
        for i in 0..<n {
            w |= UInt64(p.load(fromByteOffset: i, as: UInt8.self)) << shift
            shift += 8
        }
        w = w &* m1
        w ^= w >> 29
        h = (h ^ w) &* m2
    }
    return avalanche(h)
}

/// Mixes every input bit into every output bit (the SplitMix64 finalizer).
@inline(__always)
private func avalanche(_ x: UInt64) -> UInt64 {
    var z = x
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
}
