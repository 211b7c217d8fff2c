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
///
/// An input file wholly under newer tombstones is not merged at all
/// (`fullyCoveredInputs`): the compaction's edit deletes it unread.
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

    /// The input files whose point entries every reader has lost: the
    /// file's whole user-key range lies under tombstones newer than its
    /// newest point entry (`maxPointSequences`, the table property; an
    /// unknown one is `maxSequenceNumber` and never qualifies), and no
    /// snapshot is older than those tombstones. The compaction deletes
    /// them by its edit without reading their data blocks; their own range
    /// tombstones are still among `fragments`.
    ///
    /// The snapshot rule is stricter than `hides` (which only needs no
    /// snapshot between an entry and its tombstone) because the file's
    /// oldest sequence is not recorded: a snapshot older than the
    /// tombstone might see some of its entries.
    func fullyCoveredInputs(_ files: [FileMetaData], maxPointSequences: [SequenceNumber]) -> Set<UInt64> {
        guard let f = fragments else { return [] }
        var out = Set<UInt64>()
        for (file, newest) in zip(files, maxPointSequences) where newest != maxSequenceNumber {
            let covered = file.smallest.withUnsafeBytes { lo in
                file.largest.withUnsafeBytes { hi in
                    // A bound widened by the file's own tombstone is that
                    // tombstone's exclusive end (TableBuilder): no point entry reaches it.
                    let exclusive = sequenceOf(hi) == maxSequenceNumber && kindOf(hi) == .rangeDeletion
                    return Self.covers(f, from: userKeyOf(lo), to: userKeyOf(hi), endExclusive: exclusive, above: newest,
                                       comparator: comparator, oldestSnapshot: snapshots.first)
                }
            }
            if covered { out.insert(file.number) }
        }
        return out
    }

    /// Whether contiguous fragments span [lo, hi] ([lo, hi) when
    /// `endExclusive`), each holding a tombstone newer than `above` that no
    /// snapshot predates.
    private static func covers(_ f: RangeTombstoneFragments, from lo: UnsafeRawBufferPointer, to hi: UnsafeRawBufferPointer,
                               endExclusive: Bool, above: SequenceNumber, comparator: Comparator,
                               oldestSnapshot: SequenceNumber?) -> Bool {
        var i = f.firstFragment(endingAfter: lo)
        var position = lo
        while i < f.count {
            // Fragments are sorted and disjoint: a gap before this one is uncovered.
            if comparator.compare(f.begin(i), position) > 0 { return false }
            // Sequences are newest first; the oldest one above `above` decides.
            var oldestNewer: SequenceNumber = 0
            for t in f.sequences(i) where t > above { oldestNewer = t }
            if oldestNewer == 0 { return false }
            if let s = oldestSnapshot, s < oldestNewer { return false }
            let beyond = comparator.compare(hi, f.end(i))
            if beyond < 0 || (endExclusive && beyond == 0) { return true }
            position = f.end(i)
            i += 1
        }
        return false
    }

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
