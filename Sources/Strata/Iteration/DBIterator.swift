/// A cursor over the user keys of one column family as of one sequence
/// number, within optional bounds `[lowerBound, upperBound)`.
///
/// It sees the newest version of each key not newer than its snapshot and
/// hides deleted keys. Use one iterator from one thread at a time (it may be
/// handed between threads); create as many iterators as you like.
///
/// Mutable state is marked `@exclusivity(unchecked)`: an iterator is used by
/// one thread at a time and never hands out `inout` access to its fields, so
/// the dynamic exclusivity checks (a fifth of readseq's time) buy nothing.
public final class Iterator: @unchecked Sendable {
    private let iter: any InternalIterator
    private let sequence: SequenceNumber
    private let lowerBound: [UInt8]?
    private let upperBound: [UInt8]?
    /// Keeps the memtables, tables and snapshot this iterator reads alive.
    private let pins: [AnyObject]

    private enum Direction { case forward, reverse }
    @exclusivity(unchecked) private var direction: Direction = .forward
    @exclusivity(unchecked) private var valid = false
    // In reverse mode the current entry is copied here, since the internal
    // iterator has already moved before it.
    @exclusivity(unchecked) private var savedKey: [UInt8] = []
    @exclusivity(unchecked) private var savedValue: [UInt8] = []
    @exclusivity(unchecked) private var scratch: [UInt8] = []

    init(iter: any InternalIterator, sequence: SequenceNumber, lowerBound: [UInt8]?, upperBound: [UInt8]?, pins: [AnyObject]) {
        self.iter = iter
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
        return direction == .forward ? userKeyOf(iter.key).array : savedKey
    }

    /// The current value. Only meaningful while `isValid`.
    public var value: [UInt8] {
        precondition(valid, "Iterator.value read while not valid")
        return direction == .forward ? iter.value.array : savedValue
    }

    /// Calls `body` with the current key and value without copying them.
    /// The buffers are valid only inside `body`. Only meaningful while `isValid`.
    public func withKeyAndValue<R>(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        precondition(valid, "Iterator read while not valid")
        if direction == .forward {
            return try body(userKeyOf(iter.key), iter.value)
        }
        return try savedKey.withUnsafeBytes { k in try savedValue.withUnsafeBytes { v in try body(k, v) } }
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
            if iter.isValid { iter.prev() } else { iter.seekToLast() }
        } else {
            iter.seekToLast()
        }
        findPrevUserEntry()
    }

    /// Moves to the first key >= `target`.
    public func seek(_ target: [UInt8]) {
        direction = .forward
        if let lo = lowerBound, compareBytes(target, lo) < 0 {
            seekInternal(lo, sequence)
        } else {
            seekInternal(target, sequence)
        }
        findNextUserEntry(skipping: false)
    }

    /// Moves to the last key <= `target`.
    public func seekForPrev(_ target: [UInt8]) {
        if let hi = upperBound, compareBytes(target, hi) >= 0 {
            seekToLast()
            return
        }
        direction = .reverse
        // (target, seq 0, kind 0) sorts after every entry of `target`, so
        // the entry before it is the last one <= target.
        scratch.removeAll(keepingCapacity: true)
        target.withUnsafeBytes { appendInternalKey(&scratch, $0, 0, .deletion) }
        scratch.withUnsafeBytes { iter.seek($0) }
        if iter.isValid { iter.prev() } else { iter.seekToLast() }
        findPrevUserEntry()
    }

    /// Moves to the next key.
    public func next() {
        precondition(valid, "Iterator.next() while not valid")
        if direction == .reverse {
            // The internal iterator sits just before savedKey's entries.
            direction = .forward
            if iter.isValid { iter.next() } else { iter.seekToFirst() }
            findNextUserEntry(skipping: true)
            return
        }
        savedKey.removeAll(keepingCapacity: true)
        savedKey.append(contentsOf: userKeyOf(iter.key))
        iter.next()
        findNextUserEntry(skipping: true)
    }

    /// Moves to the previous key.
    public func prev() {
        precondition(valid, "Iterator.prev() while not valid")
        if direction == .forward {
            // Step back past every entry of the current user key.
            savedKey.removeAll(keepingCapacity: true)
            savedKey.append(contentsOf: userKeyOf(iter.key))
            while true {
                iter.prev()
                if !iter.isValid {
                    valid = false
                    savedKey.removeAll()
                    savedValue.removeAll()
                    return
                }
                if savedKey.withUnsafeBytes({ compareBytes(userKeyOf(iter.key), $0) }) < 0 { break }
            }
            direction = .reverse
        }
        findPrevUserEntry()
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
        var skipping = skipping
        while iter.isValid {
            let ikey = iter.key
            if ikey.count >= 8 && sequenceOf(ikey) <= sequence {
                let ukey = userKeyOf(ikey)
                if let hi = upperBound, hi.withUnsafeBytes({ compareBytes(ukey, $0) }) >= 0 {
                    // Past the bound: stop instead of scanning tombstones beyond it.
                    valid = false
                    return
                }
                switch kindOf(ikey) {
                case .deletion:
                    savedKey.removeAll(keepingCapacity: true)
                    savedKey.append(contentsOf: ukey)
                    skipping = true
                case .value:
                    let hidden = skipping && savedKey.withUnsafeBytes { compareBytes(ukey, $0) } <= 0
                    if !hidden {
                        valid = true
                        savedKey.removeAll(keepingCapacity: true)
                        return
                    }
                default:
                    break
                }
            }
            iter.next()
        }
        savedKey.removeAll(keepingCapacity: true)
        valid = false
    }

    /// Reverse: walks back over all entries of the previous user key (oldest
    /// first), keeping the newest visible one, and stops before the key
    /// before it.
    private func findPrevUserEntry() {
        var lastKind: ValueKind = .deletion
        while iter.isValid {
            let ikey = iter.key
            if ikey.count >= 8 && sequenceOf(ikey) <= sequence, let kind = kindOf(ikey), kind != .rangeDeletion {
                let ukey = userKeyOf(ikey)
                if let lo = lowerBound, lo.withUnsafeBytes({ compareBytes(ukey, $0) }) < 0 {
                    // Below the bound: whatever was kept so far is the answer.
                    break
                }
                if lastKind != .deletion && savedKey.withUnsafeBytes({ compareBytes(ukey, $0) }) < 0 {
                    break
                }
                lastKind = kind
                if kind == .deletion {
                    savedKey.removeAll(keepingCapacity: true)
                    savedValue.removeAll(keepingCapacity: true)
                } else {
                    savedKey.removeAll(keepingCapacity: true)
                    savedKey.append(contentsOf: ukey)
                    savedValue.removeAll(keepingCapacity: true)
                    savedValue.append(contentsOf: iter.value)
                }
            }
            iter.prev()
        }
        if lastKind == .deletion {
            valid = false
            savedKey.removeAll(keepingCapacity: true)
            savedValue.removeAll(keepingCapacity: true)
            direction = .forward
            return
        }
        valid = true
    }
}
