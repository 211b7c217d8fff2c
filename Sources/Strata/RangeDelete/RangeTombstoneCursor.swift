/// A position in a `RangeTombstoneFragments` for one reader (snapshot),
/// for iterators: keys asked about in order (either direction) move the
/// position a step or two, so a scan pays amortized O(1) per key instead
/// of a binary search per key. A jump (after a seek) falls back to a
/// binary search once a few steps have not reached the key.
struct RangeTombstoneCursor {
    let fragments: RangeTombstoneFragments
    let snapshot: SequenceNumber
    /// The fragment last looked at; in `0..<fragments.count` when non-empty.
    private(set) var index = 0
    /// Steps tried before a binary search.
    private static let maxSteps = 4

    init(_ fragments: RangeTombstoneFragments, snapshot: SequenceNumber) {
        self.fragments = fragments
        self.snapshot = snapshot
    }

    /// The sequence of the newest tombstone covering `key` that the
    /// snapshot sees (0 when none) and leaves the cursor on the fragment
    /// holding `key`, whose bounds `begin`/`end` then describe.
    @inline(__always)
    mutating func coveringSequence(_ key: UnsafeRawBufferPointer) -> SequenceNumber {
        let n = fragments.count
        if n == 0 { return 0 }
        let comparator = fragments.comparator
        var i = index
        if comparator.compare(fragments.end(i), key) <= 0 {
            // Forward: the fragment holding key is after i.
            var steps = 0
            repeat {
                i += 1
                steps += 1
                if steps > Self.maxSteps {
                    i = fragments.firstFragment(endingAfter: key)
                    break
                }
            } while i < n && comparator.compare(fragments.end(i), key) <= 0
            if i >= n {
                index = n - 1
                return 0
            }
        } else if comparator.compare(key, fragments.begin(i)) < 0 {
            // Backward: the fragment holding key is before i.
            var steps = 0
            repeat {
                i -= 1
                steps += 1
                if steps > Self.maxSteps {
                    i = fragments.lastFragment(beginningAtOrBefore: key)
                    break
                }
            } while i >= 0 && comparator.compare(key, fragments.begin(i)) < 0
            if i < 0 {
                index = 0
                return 0
            }
        }
        index = i
        guard fragments.contains(i, key) else { return 0 }
        return fragments.sequence(i, atOrBelow: snapshot)
    }

    /// Inclusive begin of the current fragment.
    var begin: UnsafeRawBufferPointer { fragments.begin(index) }
    /// Exclusive end of the current fragment.
    var end: UnsafeRawBufferPointer { fragments.end(index) }
}
