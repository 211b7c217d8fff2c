/// The range tombstones that flow through one compaction: gathered from
/// the input tables, used to drop the point entries they hide, and written
/// again, fragmented, into the outputs.
///
/// Output file bounds stay those of the point entries (a tombstone-only
/// output takes the compaction's input range). Reads do not depend on file
/// bounds for tombstones — every table's tombstones apply to the whole
/// version — so this only matters for which files later compactions pick,
/// and keeps files of a level strictly disjoint in user keys.
///
/// A tombstone may be dropped only where dropping it cannot uncover an
/// older entry: inside this compaction's input range (no other file of the
/// output level overlaps it), where no deeper level has a file, and when no
/// snapshot is older than it (every older entry it hid was in its stripe and
/// is dropped by `hides`).
struct CompactionRangeDeletions {
    private let fragments: RangeTombstoneFragments?
    /// The family's key order.
    private let comparator: Comparator
    /// Live snapshot sequences, ascending.
    private let snapshots: [SequenceNumber]

    init(inputs: [TableReader], snapshots: [SequenceNumber], comparator: Comparator) {
        self.snapshots = snapshots
        self.comparator = comparator
        let all = inputs.flatMap(\.rangeTombstones)
        fragments = all.isEmpty ? nil : RangeTombstoneFragments(all, comparator: comparator)
    }

    var isEmpty: Bool { fragments == nil }

    /// Number of snapshots below `sequence` (see CompactionJob.stripeOf).
    private func stripe(_ sequence: SequenceNumber) -> Int {
        var lo = 0, hi = snapshots.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if snapshots[mid] < sequence { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    /// True when a tombstone newer than `sequence` covers `userKey` and no
    /// snapshot separates them: the entry is invisible to every reader.
    @inline(__always)
    func hides(_ userKey: UnsafeRawBufferPointer, sequence: SequenceNumber) -> Bool {
        guard let f = fragments else { return false }
        let i = f.firstFragment(endingAfter: userKey)
        guard i < f.count, comparator.compare(f.begin(i), userKey) <= 0 else { return false }
        // The oldest tombstone newer than the entry is the one that decides.
        var closest: SequenceNumber = 0
        for t in f.sequences(i) where t > sequence { closest = t }
        return closest != 0 && stripe(closest) == stripe(sequence)
    }

    /// Input files wholly covered by a newer tombstone are not skipped
    /// unread: their entries are dropped one by one by `hides`, which frees
    /// the same space; skipping would need each file's oldest sequence.
    func fullyCoveredInputs(_ files: [FileMetaData]) -> Set<UInt64> { [] }

    /// The tombstones to write into an output covering user keys
    /// `[lower, upper)` (nil = open), clipped to it. `droppable(begin, end)`
    /// says whether a piece lies where nothing older can hide (inside the
    /// input range, no deeper file overlapping); there, tombstones older
    /// than every snapshot are dropped.
    func pieces(lower: [UInt8]?, upper: [UInt8]?, droppable: ([UInt8], [UInt8]) -> Bool) -> [RangeTombstone] {
        guard let f = fragments else { return [] }
        var out: [RangeTombstone] = []
        for i in 0..<f.count {
            var b = f.begin(i).array
            var e = f.end(i).array
            if let lo = lower, comparator.compare(e, lo) <= 0 { continue }
            if let hi = upper, comparator.compare(b, hi) >= 0 { continue }
            if let lo = lower, comparator.compare(b, lo) < 0 { b = lo }
            if let hi = upper, comparator.compare(e, hi) > 0 { e = hi }
            if comparator.compare(b, e) >= 0 { continue }
            let canDrop = droppable(b, e)
            for t in f.sequences(i) {
                if canDrop && stripe(t) == 0 { continue }
                out.append(RangeTombstone(begin: b, end: e, sequence: t))
            }
        }
        return out
    }
}
