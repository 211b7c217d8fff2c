/// Merges several sorted internal iterators into one sorted stream.
///
/// Children are few (memtables, level-0 files, one per deeper level), so
/// the smallest/largest child is found by a linear scan; a heap would pay
/// more in bookkeeping than it saves at these counts.
final class MergingIterator: InternalIterator {
    private let children: [any InternalIterator]
    private var current: Int = -1
    private enum Direction { case forward, reverse }
    private var direction: Direction = .forward

    init(_ children: [any InternalIterator]) {
        self.children = children
    }

    var isValid: Bool { current >= 0 && children[current].isValid }
    var key: UnsafeRawBufferPointer { children[current].key }
    var value: UnsafeRawBufferPointer { children[current].value }

    func seekToFirst() {
        for c in children { c.seekToFirst() }
        direction = .forward
        findSmallest()
    }

    func seekToLast() {
        for c in children { c.seekToLast() }
        direction = .reverse
        findLargest()
    }

    func seek(_ target: UnsafeRawBufferPointer) {
        for c in children { c.seek(target) }
        direction = .forward
        findSmallest()
    }

    func next() {
        precondition(isValid)
        if direction != .forward {
            // Every other child sits before key(); move each to the first
            // entry after it so the merge can go forward again.
            let k = key
            for (i, c) in children.enumerated() where i != current {
                c.seek(k)
                if c.isValid && compareInternalKeys(k, c.key) == 0 { c.next() }
            }
            direction = .forward
        }
        children[current].next()
        findSmallest()
    }

    func prev() {
        precondition(isValid)
        if direction != .reverse {
            let k = key
            for (i, c) in children.enumerated() where i != current {
                c.seek(k)
                if c.isValid { c.prev() } else { c.seekToLast() }
            }
            direction = .reverse
        }
        children[current].prev()
        findLargest()
    }

    func status() -> StrataError? {
        for c in children { if let e = c.status() { return e } }
        return nil
    }

    @inline(__always)
    private func findSmallest() {
        var best = -1
        var bestKey = UnsafeRawBufferPointer(start: nil, count: 0)
        for i in 0..<children.count {
            let c = children[i]
            guard c.isValid else { continue }
            let k = c.key
            if best < 0 || compareInternalKeys(k, bestKey) < 0 {
                best = i
                bestKey = k
            }
        }
        current = best
    }

    @inline(__always)
    private func findLargest() {
        var best = -1
        var bestKey = UnsafeRawBufferPointer(start: nil, count: 0)
        for i in stride(from: children.count - 1, through: 0, by: -1) {
            let c = children[i]
            guard c.isValid else { continue }
            let k = c.key
            if best < 0 || compareInternalKeys(k, bestKey) > 0 {
                best = i
                bestKey = k
            }
        }
        current = best
    }
}
