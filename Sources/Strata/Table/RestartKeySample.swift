/// A sparse, cache-resident sample of a large block's restart keys, used
/// to narrow the binary search of a table's pinned index block.
///
/// Why: an index block of a 64 MiB table holds tens of thousands of
/// entries (most of a MiB). A plain binary search over its restart array
/// touches ~15 scattered cache lines of restart offsets and ~15 of keys,
/// nearly all of them misses once a database's index blocks outgrow the
/// CPU caches — a cost that grows with the data, not with the work. The
/// sample keeps every `stride`-th restart key as one integer (its first 8
/// bytes after the prefix all the block's keys share, big-endian), so the
/// search first runs over a few KiB of integers, then over at most
/// `stride` restarts of the block.
///
/// Only for byte-wise user-key order: packing 8 bytes big-endian into an
/// integer preserves that order (non-strictly), so a sampled restart whose
/// integer is smaller (larger) than the target's has a smaller (larger)
/// user key, and the answer's range follows without comparing keys.
struct RestartKeySample: Sendable, Equatable {
    /// Restarts between samples.
    static let stride = 16
    /// Bytes every user key of the block starts with (the common prefix of
    /// its first and last restart keys; sorted keys between share it).
    private let prefix: [UInt8]
    /// Packed keys of restarts 0, stride, 2·stride, …
    private let packed: [UInt64]
    private let restartCount: Int

    init(prefix: [UInt8], packed: [UInt64], restartCount: Int) {
        self.prefix = prefix
        self.packed = packed
        self.restartCount = restartCount
    }

    /// Bytes held.
    var memoryUsage: Int { prefix.count + packed.count * 8 }

    /// The first 8 bytes of `key` after `skip` bytes, big-endian, zero-padded.
    @inline(__always)
    static func pack(_ key: UnsafeRawBufferPointer, skipping skip: Int) -> UInt64 {
        var v: UInt64 = 0
        let n = min(8, key.count - skip)
        var i = 0
        while i < n {
            v |= UInt64(key[skip &+ i]) << UInt64(56 &- 8 &* i)
            i &+= 1
        }
        return v
    }

    /// Restarts `lo...hi` between which the last restart whose key is below
    /// any internal key with user key `userKey` lies; nil when the sample
    /// cannot narrow the search (the key lacks the block's common prefix).
    func restartRange(for userKey: UnsafeRawBufferPointer) -> ClosedRange<Int>? {
        guard userKey.count >= prefix.count else { return nil }
        for i in 0..<prefix.count where userKey[i] != prefix[i] { return nil }
        let t = Self.pack(userKey, skipping: prefix.count)
        return packed.withUnsafeBufferPointer { p -> ClosedRange<Int> in
            // First sample >= t, then first sample > t.
            var lo = 0, hi = p.count
            while lo < hi {
                let mid = (lo &+ hi) >> 1
                if p[mid] < t { lo = mid &+ 1 } else { hi = mid }
            }
            let firstNotBelow = lo
            hi = p.count
            while lo < hi {
                let mid = (lo &+ hi) >> 1
                if p[mid] <= t { lo = mid &+ 1 } else { hi = mid }
            }
            let firstAbove = lo
            // Samples before firstNotBelow have smaller user keys, so the
            // answer is at or after the last of them; samples from
            // firstAbove on have larger user keys, so it is before the first.
            let low = firstNotBelow == 0 ? 0 : (firstNotBelow &- 1) &* Self.stride
            let high = firstAbove == p.count ? restartCount &- 1 : max(low, firstAbove &* Self.stride &- 1)
            return low...high
        }
    }
}
