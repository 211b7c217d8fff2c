/// A cursor over the user keys of one column family as of one sequence
/// number, within optional bounds `[lowerBound, upperBound)`.
///
/// It sees the newest version of each key not newer than its snapshot and
/// hides deleted keys, including keys under a range deletion the snapshot
/// sees. Inside a deleted range it does not step key by key: every source
/// whose entries are all older than the range tombstone jumps to the
/// tombstone's end (or before its begin, in reverse).
///
/// Use one iterator from one thread at a time (it may be handed between
/// threads); create as many iterators as you like.
///
/// Mutable state is marked `@exclusivity(unchecked)`: an iterator is used by
/// one thread at a time and never hands out `inout` access to its fields, so
/// the dynamic exclusivity checks (a fifth of readseq's time) buy nothing.
public final class Iterator: @unchecked Sendable {
    private let iter: any InternalIterator
    /// `iter` again, unowned and typed: the per-entry steps (`isValid`,
    /// `key`, `value`, `next`, `prev`) then dispatch on the concrete type
    /// instead of through the existential (`iter` keeps the object alive).
    private let cursor: ChildIterator
    private let sequence: SequenceNumber
    /// The family's key order (bounds and key changes are judged in it).
    private let comparator: KeyOrder
    /// Keeps `comparator`'s object alive (`KeyOrder` does not retain it).
    private let retainedComparator: Comparator
    private let lowerBound: [UInt8]?
    private let upperBound: [UInt8]?
    /// Keeps the memtables, tables and snapshot this iterator reads alive.
    private let pins: [AnyObject]
    /// Set when range tombstones apply: `iter` as its concrete type, for
    /// the skipping moves. Nil (and `tombstones` empty) otherwise.
    private let merging: MergingIterator?
    @exclusivity(unchecked) private var tombstones: [RangeTombstoneCursor]
    /// Which of `tombstones` last reported the newest covering tombstone.
    @exclusivity(unchecked) private var coveringCursor = 0

    private enum Direction { case forward, reverse }
    @exclusivity(unchecked) private var direction: Direction = .forward
    @exclusivity(unchecked) private var valid = false
    // In reverse mode the current entry is copied here, since the internal
    // iterator has already moved before it.
    @exclusivity(unchecked) private var savedKey = ByteScratch()
    @exclusivity(unchecked) private var savedValue = ByteScratch()
    @exclusivity(unchecked) private var scratch: [UInt8] = []

    init(iter: any InternalIterator, comparator: Comparator, sequence: SequenceNumber, lowerBound: [UInt8]?,
         upperBound: [UInt8]?, pins: [AnyObject]) {
        self.iter = iter
        self.cursor = ChildIterator(iter)
        self.comparator = KeyOrder(comparator)
        self.retainedComparator = comparator
        self.sequence = sequence
        self.lowerBound = lowerBound
        self.upperBound = upperBound
        self.pins = pins
        merging = nil
        tombstones = []
    }

    /// An iterator that applies the range tombstones in `tombstones` (one
    /// cursor per fragment list, all at `sequence`) to the entries of
    /// `merging`, whose children must carry their max sequences.
    init(merging: MergingIterator, tombstones: [RangeTombstoneCursor], comparator: Comparator, sequence: SequenceNumber,
         lowerBound: [UInt8]?, upperBound: [UInt8]?, pins: [AnyObject]) {
        self.iter = merging
        self.cursor = ChildIterator(merging)
        self.comparator = KeyOrder(comparator)
        self.retainedComparator = comparator
        self.merging = merging
        self.tombstones = tombstones
        self.sequence = sequence
        self.lowerBound = lowerBound
        self.upperBound = upperBound
        self.pins = pins
    }

    /// Whether the iterator is positioned at an entry.
    public var isValid: Bool { valid }

    /// The current key. Only meaningful while `isValid`.
    public var key: [UInt8] {
        precondition(valid, "Iterator.key read while not valid")
        return direction == .forward ? userKeyOf(cursor.key).array : savedKey.array
    }

    /// The current value. Only meaningful while `isValid`.
    public var value: [UInt8] {
        precondition(valid, "Iterator.value read while not valid")
        return direction == .forward ? cursor.value.array : savedValue.array
    }

    /// Calls `body` with the current key and value without copying them.
    /// The buffers are valid only inside `body`. Only meaningful while `isValid`.
    public func withKeyAndValue<R>(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        precondition(valid, "Iterator read while not valid")
        if direction == .forward {
            return try body(userKeyOf(cursor.key), cursor.value)
        }
        return try body(savedKey.bytes, savedValue.bytes)
    }

    /// Throws the first error the iterator met (for example a corrupt block).
    /// An iterator that stops early because of an error is simply not valid;
    /// call this after a loop to tell the end of data from a failure.
    public func checkStatus() throws {
        if let e = iter.status() { throw e }
    }

    /// Moves to the first key (at or above the lower bound).
    public func seekToFirst() {
        direction = .forward
        if let lo = lowerBound {
            seekInternal(lo, sequence)
        } else {
            iter.seekToFirst()
        }
        findNextUserEntry(skipping: false)
    }

    /// Moves to the last key (below the upper bound).
    public func seekToLast() {
        direction = .reverse
        if let hi = upperBound {
            seekInternal(hi, maxSequenceNumber)
            if cursor.isValid { cursor.prev() } else { iter.seekToLast() }
        } else {
            iter.seekToLast()
        }
        findPrevUserEntry()
    }

    /// Moves to the first key >= `target`.
    public func seek(_ target: [UInt8]) {
        direction = .forward
        if let lo = lowerBound, retainedComparator.compare(target, lo) < 0 {
            seekInternal(lo, sequence)
        } else {
            seekInternal(target, sequence)
        }
        findNextUserEntry(skipping: false)
    }

    /// Moves to the last key <= `target`.
    public func seekForPrev(_ target: [UInt8]) {
        if let hi = upperBound, retainedComparator.compare(target, hi) >= 0 {
            seekToLast()
            return
        }
        direction = .reverse
        // (target, seq 0, kind 0) sorts after every entry of `target`, so
        // the entry before it is the last one <= target.
        scratch.removeAll(keepingCapacity: true)
        target.withUnsafeBytes { appendInternalKey(&scratch, $0, 0, .deletion) }
        scratch.withUnsafeBytes { iter.seek($0) }
        if cursor.isValid { cursor.prev() } else { iter.seekToLast() }
        findPrevUserEntry()
    }

    /// Moves to the next key.
    public func next() {
        precondition(valid, "Iterator.next() while not valid")
        if direction == .reverse {
            direction = .forward
            if merging != nil {
                // A reverse jump over a deleted range may have left the
                // internal iterator far before savedKey: seek past it
                // instead of stepping back over the range. (savedKey, 0,
                // deletion) is the last possible entry of savedKey.
                scratch.removeAll(keepingCapacity: true)
                appendInternalKey(&scratch, savedKey.bytes, 0, .deletion)
                scratch.withUnsafeBytes { iter.seek($0) }
            } else if cursor.isValid {
                // The internal iterator sits just before savedKey's entries.
                cursor.next()
            } else {
                iter.seekToFirst()
            }
            findNextUserEntry(skipping: true)
            return
        }
        savedKey.set(userKeyOf(cursor.key))
        cursor.next()
        findNextUserEntry(skipping: true)
    }

    /// Moves to the previous key.
    public func prev() {
        precondition(valid, "Iterator.prev() while not valid")
        if direction == .forward {
            // Step back past every entry of the current user key.
            savedKey.set(userKeyOf(cursor.key))
            while true {
                cursor.prev()
                if !cursor.isValid {
                    valid = false
                    savedKey.removeAll()
                    savedValue.removeAll()
                    return
                }
                let order = comparator
                if order.compare(userKeyOf(cursor.key), savedKey.bytes) < 0 { break }
            }
            direction = .reverse
        }
        findPrevUserEntry()
    }

    /// `order.compare(key, other)`. The byte-wise case runs in a closure of
    /// its own that calls nothing opaque, so the optimizer need not retain
    /// `other`'s storage around it (it did with one shared closure).
    @inline(__always)
    private static func compare(_ order: KeyOrder, _ key: UnsafeRawBufferPointer, _ other: [UInt8]) -> Int {
        if _fastPath(order.isBytewise) { return other.withUnsafeBytes { compareBytes(key, $0) } }
        return other.withUnsafeBytes { order.comparator.compare(key, $0) }
    }

    private func seekInternal(_ userKey: [UInt8], _ seq: SequenceNumber) {
        scratch.removeAll(keepingCapacity: true)
        userKey.withUnsafeBytes { appendInternalKey(&scratch, $0, seq, .forSeek) }
        scratch.withUnsafeBytes { iter.seek($0) }
    }

    /// Forward: settles on the first visible entry at or after the internal
    /// cursor. With `skipping`, entries of user keys <= savedKey are hidden
    /// (they are older versions of a key already returned or deleted).
    private func findNextUserEntry(skipping: Bool) {
        // A local copy: the closures below then capture a plain value, not `self`.
        let order = comparator
        var skipping = skipping
        let applyTombstones = merging != nil
        while cursor.isValid {
            let ikey = cursor.key
            if ikey.count >= 8 && sequenceOf(ikey) <= sequence {
                let ukey = userKeyOf(ikey)
                if let hi = upperBound, Self.compare(order, ukey, hi) >= 0 {
                    // Past the bound: stop instead of scanning tombstones beyond it.
                    valid = false
                    return
                }
                if let kind = kindOf(ikey), kind != .rangeDeletion {
                    // The newest visible entry of a user key decides it;
                    // older ones (hidden) are skipped.
                    let hidden = skipping && order.compare(ukey, savedKey.bytes) <= 0
                    if !hidden {
                        if applyTombstones {
                            let covering = coveringSequence(ukey)
                            if sequenceOf(ikey) < covering {
                                savedKey.set(ukey)
                                skipping = true
                                skipForward(olderThan: covering)
                                continue
                            }
                        }
                        if kind == .value {
                            valid = true
                            savedKey.removeAll()
                            return
                        }
                        savedKey.set(ukey)
                        skipping = true
                    }
                }
            }
            cursor.next()
        }
        savedKey.removeAll()
        valid = false
    }

    /// Reverse: walks back over all entries of the previous user key (oldest
    /// first), keeping the newest visible one, and stops before the key
    /// before it.
    private func findPrevUserEntry() {
        let order = comparator
        var lastKind: ValueKind = .deletion
        let applyTombstones = merging != nil
        while cursor.isValid {
            let ikey = cursor.key
            if ikey.count >= 8 && sequenceOf(ikey) <= sequence, var kind = kindOf(ikey), kind != .rangeDeletion {
                let ukey = userKeyOf(ikey)
                if let lo = lowerBound, Self.compare(order, ukey, lo) < 0 {
                    // Below the bound: whatever was kept so far is the answer.
                    break
                }
                if lastKind != .deletion && order.compare(ukey, savedKey.bytes) < 0 {
                    break
                }
                var covering: SequenceNumber = 0
                if applyTombstones {
                    covering = coveringSequence(ukey)
                    // Under a tombstone the snapshot sees, an older entry
                    // counts as a deletion.
                    if sequenceOf(ikey) < covering { kind = .deletion } else { covering = 0 }
                }
                lastKind = kind
                if kind == .deletion {
                    savedKey.removeAll()
                    savedValue.removeAll()
                } else {
                    savedKey.set(ukey)
                    savedValue.set(cursor.value)
                }
                if covering > 0 {
                    skipBackward(olderThan: covering)
                    continue
                }
            }
            cursor.prev()
        }
        if lastKind == .deletion {
            valid = false
            savedKey.removeAll()
            savedValue.removeAll()
            direction = .forward
            return
        }
        valid = true
    }

    // MARK: Range tombstones

    /// The sequence of the newest tombstone covering `userKey` that the
    /// snapshot sees (0 when none); notes which cursor holds it.
    @inline(__always)
    private func coveringSequence(_ userKey: UnsafeRawBufferPointer) -> SequenceNumber {
        var best: SequenceNumber = 0
        for i in 0..<tombstones.count {
            let t = tombstones[i].coveringSequence(userKey)
            if t > best {
                best = t
                coveringCursor = i
            }
        }
        return best
    }

    /// Moves past the current (deleted) entry; sources older than the
    /// covering tombstone jump to the end of its fragment.
    private func skipForward(olderThan covering: SequenceNumber) {
        scratch.removeAll(keepingCapacity: true)
        // (end, max sequence, forSeek) is the first possible entry of `end`.
        appendInternalKey(&scratch, tombstones[coveringCursor].end, maxSequenceNumber, .forSeek)
        scratch.withUnsafeBytes { merging!.nextSkipping(olderThan: covering, to: $0) }
    }

    /// Moves before the current (deleted) entry; sources older than the
    /// covering tombstone jump before the begin of its fragment.
    private func skipBackward(olderThan covering: SequenceNumber) {
        scratch.removeAll(keepingCapacity: true)
        appendInternalKey(&scratch, tombstones[coveringCursor].begin, maxSequenceNumber, .forSeek)
        scratch.withUnsafeBytes { merging!.prevSkipping(olderThan: covering, to: $0) }
    }
}
