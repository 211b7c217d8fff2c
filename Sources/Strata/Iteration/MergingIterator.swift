/// Merges several sorted internal iterators into one sorted stream.
///
/// Children are few (memtables, level-0 files, one per deeper level), so
/// the smallest/largest child is found by a linear scan over *cached* child
/// positions: each child's validity and key pointer are refreshed only when
/// that child moves, so a step touches one child, not all of them (calls
/// through the existential cost a retain/release pair each).
///
/// Mutable state is marked `@exclusivity(unchecked)`: an iterator is used by
/// one thread at a time and never hands out `inout` access to its fields, so
/// the dynamic exclusivity checks (a fifth of readseq's time) buy nothing.
final class MergingIterator: InternalIterator {
    private let children: [any InternalIterator]
    /// The children again, unowned and typed (see `ChildIterator`), in a
    /// raw buffer so the hot loops neither retain nor check an array.
    private let child: UnsafeMutablePointer<ChildIterator>
    /// The order of the children's keys.
    private let comparator: KeyOrder
    /// Keeps `comparator`'s object alive (`KeyOrder` does not retain it).
    private let retainedComparator: Comparator
    /// For each child, a sequence no visible entry of it exceeds, when the
    /// creator knows them (range-tombstone skipping); nil otherwise.
    private let maxSequences: [SequenceNumber]?
    /// Per child: positioned or not, and its current key. Raw buffers owned
    /// by the iterator rather than arrays, so the hot loops neither retain
    /// arrays nor check their uniqueness on every store.
    private let valid: UnsafeMutablePointer<Bool>
    private let keys: UnsafeMutablePointer<UnsafeRawBufferPointer>
    @exclusivity(unchecked) private var current: Int = -1
    /// Going forward: the child other than `current` with the smallest key
    /// (lowest index among equal keys), -1 when no other child is valid.
    /// A step then compares the current child's new key with this one key,
    /// not with every child: while one child keeps supplying the smallest
    /// keys (sequential data, a long run in one table) a step costs one
    /// comparison; when the lead changes, the runner-up is the new current
    /// and only the runner-up is searched again (the same N - 1 comparisons
    /// as a full scan). Meaningful only after `findSmallest`.
    @exclusivity(unchecked) private var runnerUp: Int = -1
    private enum Direction { case forward, reverse }
    @exclusivity(unchecked) private var direction: Direction = .forward

    init(_ children: [any InternalIterator], comparator: Comparator, maxSequences: [SequenceNumber]? = nil) {
        precondition(maxSequences == nil || maxSequences!.count == children.count)
        self.children = children
        child = .allocate(capacity: max(1, children.count))
        child.initialize(from: children.map(ChildIterator.init), count: children.count)
        self.comparator = KeyOrder(comparator)
        self.retainedComparator = comparator
        self.maxSequences = maxSequences
        valid = .allocate(capacity: max(1, children.count))
        valid.initialize(repeating: false, count: max(1, children.count))
        keys = .allocate(capacity: max(1, children.count))
        keys.initialize(repeating: UnsafeRawBufferPointer(start: nil, count: 0), count: max(1, children.count))
    }

    deinit {
        child.deinitialize(count: children.count)
        child.deallocate()
        valid.deallocate()
        keys.deallocate()
    }

    @inline(__always)
    private func refresh(_ i: Int) {
        let c = child[i]
        let v = c.isValid
        valid[i] = v
        keys[i] = v ? c.key : UnsafeRawBufferPointer(start: nil, count: 0)
    }

    var isValid: Bool { current >= 0 }
    var key: UnsafeRawBufferPointer { keys[current] }
    var value: UnsafeRawBufferPointer { child[current].value }

    func seekToFirst() {
        for i in 0..<children.count {
            children[i].seekToFirst()
            refresh(i)
        }
        direction = .forward
        findSmallest()
    }

    func seekToLast() {
        for i in 0..<children.count {
            children[i].seekToLast()
            refresh(i)
        }
        direction = .reverse
        findLargest()
    }

    func seek(_ target: UnsafeRawBufferPointer) {
        for i in 0..<children.count {
            children[i].seek(target)
            refresh(i)
        }
        direction = .forward
        findSmallest()
    }

    func next() {
        precondition(isValid)
        if direction != .forward {
            // Every other child sits before key(); move each to the first
            // entry after it so the merge can go forward again.
            let k = keys[current]
            for i in 0..<children.count where i != current {
                let c = children[i]
                c.seek(k)
                if c.isValid && comparator.compareInternal(k, c.key) == 0 { c.next() }
                refresh(i)
            }
            direction = .forward
            child[current].next()
            refresh(current)
            findSmallest()
            return
        }
        child[current].next()
        refresh(current)
        if comparator.isBytewise { stepForward(BytewiseKeyOrder()) } else { stepForward(comparator) }
    }

    /// After the current child moved forward: keeps it when its new key is
    /// still below the runner-up's, else hands the lead to the runner-up.
    @inline(__always)
    private func stepForward<O: KeyOrdering>(_ order: O) {
        let r = runnerUp
        if r < 0 {
            if !valid[current] { current = -1 }
            return
        }
        if valid[current] {
            let c = order.compareInternal(keys[current], keys[r])
            if c < 0 { return }
            if c == 0 {
                // Equal keys in two children: let the full scan apply its
                // tie rule (lowest index).
                current = smallest(order, except: -1)
                runnerUp = current < 0 ? -1 : smallest(order, except: current)
                return
            }
        }
        current = r
        runnerUp = smallest(order, except: r)
    }

    func prev() {
        precondition(isValid)
        if direction != .reverse {
            let k = keys[current]
            for i in 0..<children.count where i != current {
                let c = children[i]
                c.seek(k)
                if c.isValid { c.prev() } else { c.seekToLast() }
                refresh(i)
            }
            direction = .reverse
        }
        child[current].prev()
        refresh(current)
        findLargest()
    }

    /// Like `next()`, but a child whose entries are all older than
    /// `sequence` (per `maxSequences`) and that sits before `target` is
    /// moved straight to `target`. The caller knows a range tombstone with
    /// that sequence covers everything from the current key up to `target`,
    /// so those entries are deleted and need not be visited one by one.
    func nextSkipping(olderThan sequence: SequenceNumber, to target: UnsafeRawBufferPointer) {
        precondition(isValid)
        guard direction == .forward, let bounds = maxSequences else {
            next()
            return
        }
        var movedCurrent = false
        for i in 0..<children.count where valid[i] && bounds[i] < sequence && comparator.compareInternal(keys[i], target) < 0 {
            children[i].seek(target)
            refresh(i)
            if i == current { movedCurrent = true }
        }
        if !movedCurrent {
            children[current].next()
            refresh(current)
        }
        findSmallest()
    }

    /// Like `prev()`, but a child whose entries are all older than
    /// `sequence` and that sits at or after `target` is moved straight to
    /// its last entry before `target` (see `nextSkipping`).
    func prevSkipping(olderThan sequence: SequenceNumber, to target: UnsafeRawBufferPointer) {
        precondition(isValid)
        guard direction == .reverse, let bounds = maxSequences else {
            prev()
            return
        }
        var movedCurrent = false
        for i in 0..<children.count where valid[i] && bounds[i] < sequence && comparator.compareInternal(keys[i], target) >= 0 {
            let c = children[i]
            c.seek(target)
            if c.isValid { c.prev() } else { c.seekToLast() }
            refresh(i)
            if i == current { movedCurrent = true }
        }
        if !movedCurrent {
            children[current].prev()
            refresh(current)
        }
        findLargest()
    }

    func status() -> StrataError? {
        for c in children { if let e = c.status() { return e } }
        return nil
    }

    /// Points `current` at the child with the smallest key (-1 when none).
    /// The order is tested once here, not per comparison (see `KeyOrdering`).
    @inline(__always)
    private func findSmallest() {
        if comparator.isBytewise {
            let order = BytewiseKeyOrder()
            current = smallest(order, except: -1)
            runnerUp = current < 0 ? -1 : smallest(order, except: current)
        } else {
            current = smallest(comparator, except: -1)
            runnerUp = current < 0 ? -1 : smallest(comparator, except: current)
        }
    }

    /// Points `current` at the child with the largest key (-1 when none).
    @inline(__always)
    private func findLargest() {
        current = comparator.isBytewise ? largest(BytewiseKeyOrder()) : largest(comparator)
    }

    /// The valid child with the smallest key, lowest index first among
    /// equal keys, skipping child `except` (-1: none); -1 when none.
    @inline(__always)
    private func smallest<O: KeyOrdering>(_ order: O, except: Int) -> Int {
        var best = -1
        for i in 0..<children.count where valid[i] && i != except {
            if best < 0 || order.compareInternal(keys[i], keys[best]) < 0 { best = i }
        }
        return best
    }

    @inline(__always)
    private func largest<O: KeyOrdering>(_ order: O) -> Int {
        var best = -1
        for i in stride(from: children.count - 1, through: 0, by: -1) where valid[i] {
            if best < 0 || order.compareInternal(keys[i], keys[best]) > 0 { best = i }
        }
        return best
    }
}
