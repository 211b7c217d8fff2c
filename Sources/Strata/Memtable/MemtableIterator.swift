/// A cursor over one of a memtable's skip lists.
///
/// `key` is the internal key and `value` the stored value, both pointing
/// straight into arena memory. The iterator holds the memtable strongly,
/// so that memory outlives it; unlike the protocol's general promise, the
/// bytes actually stay valid for as long as the memtable lives.
///
/// Each iterator is for one thread, but any number of them may run while
/// the memtable's writer inserts; entries inserted after a step may or may
/// not be seen by later steps.
final class MemtableIterator: InternalIterator {
    /// Keeps the arena behind `list` alive.
    private let owner: Memtable
    private let list: SkipList
    @exclusivity(unchecked) private var node: SkipListNode?

    init(owner: Memtable, list: SkipList) {
        self.owner = owner
        self.list = list
    }

    var isValid: Bool { node != nil }

    func seekToFirst() { node = list.first() }

    func seekToLast() { node = list.last() }

    func seek(_ target: UnsafeRawBufferPointer) {
        if target.count >= 8 {
            node = list.findGreaterOrEqual(userKey: userKeyOf(target), trailer: trailerOf(target))
        } else {
            // Not a well-formed internal key: treat it as a bare user key,
            // which sorts before every version of that key.
            node = list.findGreaterOrEqual(userKey: target, trailer: .max)
        }
    }

    func next() {
        guard let n = node else { return }
        node = n.next(0).map(SkipListNode.init)
    }

    func prev() {
        guard let n = node else { return }
        node = list.predecessor(of: n)
    }

    var key: UnsafeRawBufferPointer {
        node?.internalKey ?? UnsafeRawBufferPointer(start: nil, count: 0)
    }

    var value: UnsafeRawBufferPointer {
        node?.value ?? UnsafeRawBufferPointer(start: nil, count: 0)
    }

    func status() -> StrataError? { nil }
}
