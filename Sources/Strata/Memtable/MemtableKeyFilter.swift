import CStrataSupport

/// A bloom filter over the user keys of one memtable's point records, so a
/// lookup of a key the memtable does not hold skips the skip-list descent —
/// about 20 dependent cache misses once a 64 MiB memtable holds a few
/// hundred thousand entries, the largest cost of a read right after a bulk
/// load. (RocksDB's `memtable_whole_key_filtering`.)
///
/// Blocked layout: a key's hash picks one 64-byte line and sets
/// `probes` bits inside it, so a check touches one cache line. Answers
/// "maybe" for every key added; a "no" is certain.
///
/// Thread-safety: one writer (the memtable's), any number of readers. Words
/// are read and written with relaxed atomics; a reader looks a key up only
/// after the write that added it was published (with release/acquire on
/// the sequence number), which orders the bits before the lookup.
final class MemtableKeyFilter: @unchecked Sendable {
    private let words: UnsafeMutablePointer<UInt64>
    /// Number of 64-byte lines (8 words each); at least 1.
    private let lines: UInt64
    static let probes = 6

    /// A filter of about `bytes` bytes (rounded down to whole lines, at least one).
    init(bytes: Int) {
        let lineCount = max(1, bytes / 64)
        lines = UInt64(lineCount)
        words = UnsafeMutablePointer<UInt64>.allocate(capacity: lineCount * 8)
        words.initialize(repeating: 0, count: lineCount * 8)
    }

    deinit { words.deallocate() }

    /// Bytes held.
    var memoryUsage: Int { Int(lines) * 64 }

    /// Records `hash` (see `bloomHash`). Writer only.
    @inline(__always)
    func add(_ hash: UInt64) {
        let line = words + lineIndex(hash) &* 8
        var h = UInt32(truncatingIfNeeded: hash)
        let delta = (h >> 17) | (h << 15)
        for _ in 0..<Self.probes {
            let bit = Int(h & 511)
            let word = line + (bit >> 6)
            let mask: UInt64 = 1 << UInt64(bit & 63)
            let old = strata_load_relaxed_u64(word)
            if old & mask == 0 { strata_store_relaxed_u64(word, old | mask) }
            h = h &+ delta
        }
    }

    /// False when no key with `hash` was added.
    @inline(__always)
    func mayContain(_ hash: UInt64) -> Bool {
        let line = words + lineIndex(hash) &* 8
        var h = UInt32(truncatingIfNeeded: hash)
        let delta = (h >> 17) | (h << 15)
        for _ in 0..<Self.probes {
            let bit = Int(h & 511)
            if strata_load_relaxed_u64(line + (bit >> 6)) & (1 << UInt64(bit & 63)) == 0 { return false }
            h = h &+ delta
        }
        return true
    }

    /// The line for `hash`, from its upper 32 bits (the probes use the lower).
    @inline(__always)
    private func lineIndex(_ hash: UInt64) -> Int {
        Int(truncatingIfNeeded: ((hash >> 32) &* lines) >> 32)
    }
}
