/// A set of range tombstones cut into sorted, non-overlapping fragments.
///
/// Tombstones may overlap arbitrarily; fragmenting splits them at every
/// begin and end key, so each fragment `[begin, end)` is covered by the
/// same tombstones along its whole width. A fragment keeps the sequence
/// numbers of those tombstones in descending order, so a reader at any
/// snapshot finds the newest tombstone it may see with one binary search
/// for the fragment and one for the sequence. Adjacent fragments with the
/// same sequence list are merged; empty tombstones (`begin >= end`) are
/// dropped.
///
/// Immutable once built; the key bytes live in one allocation owned by the
/// instance and freed in `deinit`. That is why the type is
/// `@unchecked Sendable`: nothing writes the buffer after `init`.
final class RangeTombstoneFragments: @unchecked Sendable {
    /// Where one fragment's keys and sequences are.
    private struct Span {
        var beginStart: Int
        var beginCount: Int
        var endStart: Int
        var endCount: Int
        var sequenceStart: Int
        var sequenceCount: Int
    }

    /// The order of the keys (the family's comparator).
    let comparator: Comparator
    private let keyBytes: UnsafeMutableRawPointer
    private let spans: [Span]
    /// Every fragment's sequences, each run descending.
    private let sequences: [SequenceNumber]

    /// Number of fragments.
    var count: Int { spans.count }
    var isEmpty: Bool { spans.isEmpty }

    /// Fragments `tombstones`, which may come in any order, in `comparator`'s key order.
    init(_ tombstones: [RangeTombstone], comparator: Comparator) {
        self.comparator = comparator
        let order = comparator.compare as ([UInt8], [UInt8]) -> Int
        let live = tombstones.filter { order($0.begin, $0.end) < 0 }
            .sorted { order($0.begin, $1.begin) < 0 }
        var points: [[UInt8]] = []
        points.reserveCapacity(live.count * 2)
        for t in live {
            points.append(t.begin)
            points.append(t.end)
        }
        points.sort { order($0, $1) < 0 }
        var unique: [[UInt8]] = []
        unique.reserveCapacity(points.count)
        for p in points where unique.last.map({ order($0, p) != 0 }) ?? true { unique.append(p) }

        // Sweep the boundary points left to right with the set of
        // tombstones covering the current elementary interval.
        var pieces: [(begin: [UInt8], end: [UInt8], sequences: [SequenceNumber])] = []
        var active: [(end: [UInt8], sequence: SequenceNumber)] = []
        var next = 0
        for j in 0..<max(0, unique.count - 1) {
            let point = unique[j]
            active.removeAll { order($0.end, point) <= 0 }
            while next < live.count && order(live[next].begin, point) == 0 {
                active.append((live[next].end, live[next].sequence))
                next += 1
            }
            if active.isEmpty { continue }
            var seqs = active.map(\.sequence)
            seqs.sort(by: >)
            var deduped: [SequenceNumber] = []
            deduped.reserveCapacity(seqs.count)
            for s in seqs where deduped.last != s { deduped.append(s) }
            if let last = pieces.last, order(last.end, point) == 0, last.sequences == deduped {
                pieces[pieces.count - 1].end = unique[j + 1]
            } else {
                pieces.append((point, unique[j + 1], deduped))
            }
        }

        let totalKeyBytes = pieces.reduce(0) { $0 + $1.begin.count + $1.end.count }
        let bytes = UnsafeMutableRawPointer.allocate(byteCount: max(1, totalKeyBytes), alignment: 8)
        var spans: [Span] = []
        spans.reserveCapacity(pieces.count)
        var sequences: [SequenceNumber] = []
        var offset = 0
        for piece in pieces {
            var span = Span(beginStart: offset, beginCount: piece.begin.count, endStart: 0, endCount: piece.end.count,
                            sequenceStart: sequences.count, sequenceCount: piece.sequences.count)
            piece.begin.withUnsafeBytes { if let b = $0.baseAddress { (bytes + offset).copyMemory(from: b, byteCount: $0.count) } }
            offset += piece.begin.count
            span.endStart = offset
            piece.end.withUnsafeBytes { if let b = $0.baseAddress { (bytes + offset).copyMemory(from: b, byteCount: $0.count) } }
            offset += piece.end.count
            sequences.append(contentsOf: piece.sequences)
            spans.append(span)
        }
        keyBytes = bytes
        self.spans = spans
        self.sequences = sequences
    }

    deinit { keyBytes.deallocate() }

    /// The inclusive begin key of fragment `i`; valid while `self` lives.
    @inline(__always)
    func begin(_ i: Int) -> UnsafeRawBufferPointer {
        let s = spans[i]
        return UnsafeRawBufferPointer(start: keyBytes + s.beginStart, count: s.beginCount)
    }

    /// The exclusive end key of fragment `i`; valid while `self` lives.
    @inline(__always)
    func end(_ i: Int) -> UnsafeRawBufferPointer {
        let s = spans[i]
        return UnsafeRawBufferPointer(start: keyBytes + s.endStart, count: s.endCount)
    }

    /// The sequences of the tombstones covering fragment `i`, newest first.
    func sequences(_ i: Int) -> ArraySlice<SequenceNumber> {
        let s = spans[i]
        return sequences[s.sequenceStart..<(s.sequenceStart + s.sequenceCount)]
    }

    /// The newest tombstone sequence of fragment `i` at or below
    /// `snapshot`, 0 when every tombstone there is newer.
    @inline(__always)
    func sequence(_ i: Int, atOrBelow snapshot: SequenceNumber) -> SequenceNumber {
        let s = spans[i]
        var lo = s.sequenceStart
        var hi = s.sequenceStart + s.sequenceCount
        if sequences[lo] <= snapshot { return sequences[lo] }
        // Descending: find the first element <= snapshot.
        while lo < hi {
            let mid = (lo + hi) >> 1
            if sequences[mid] > snapshot { lo = mid + 1 } else { hi = mid }
        }
        return lo < s.sequenceStart + s.sequenceCount ? sequences[lo] : 0
    }

    /// Index of the first fragment whose end is above `key` (`count` if none):
    /// the fragment holding `key`, if any does.
    func firstFragment(endingAfter key: UnsafeRawBufferPointer) -> Int {
        var lo = 0, hi = spans.count
        while lo < hi {
            let mid = (lo + hi) >> 1
            if comparator.compare(end(mid), key) <= 0 { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    /// Index of the last fragment whose begin is at or below `key` (-1 if none).
    func lastFragment(beginningAtOrBefore key: UnsafeRawBufferPointer) -> Int {
        var lo = 0, hi = spans.count
        while lo < hi {
            let mid = (lo + hi) >> 1
            if comparator.compare(begin(mid), key) <= 0 { lo = mid + 1 } else { hi = mid }
        }
        return lo - 1
    }

    /// Whether fragment `i` holds `key`.
    @inline(__always)
    func contains(_ i: Int, _ key: UnsafeRawBufferPointer) -> Bool {
        comparator.compare(begin(i), key) <= 0 && comparator.compare(key, end(i)) < 0
    }

    /// The sequence of the newest tombstone covering `userKey` that a reader
    /// at `snapshot` sees, 0 when none does. A point entry of that key with
    /// a smaller sequence is deleted for that reader.
    func maxCoveringSequence(_ userKey: UnsafeRawBufferPointer, atOrBelow snapshot: SequenceNumber) -> SequenceNumber {
        let i = firstFragment(endingAfter: userKey)
        guard i < spans.count, comparator.compare(begin(i), userKey) <= 0 else { return 0 }
        return sequence(i, atOrBelow: snapshot)
    }

    func maxCoveringSequence(_ userKey: [UInt8], atOrBelow snapshot: SequenceNumber) -> SequenceNumber {
        userKey.withUnsafeBytes { maxCoveringSequence($0, atOrBelow: snapshot) }
    }

    /// The fragments as values (tests, compaction output).
    var all: [(begin: [UInt8], end: [UInt8], sequences: [SequenceNumber])] {
        (0..<count).map { (begin($0).array, end($0).array, Array(sequences($0))) }
    }
}
