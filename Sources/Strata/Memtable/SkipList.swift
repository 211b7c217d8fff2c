import CStrataSupport
import Synchronization

/// An ordered set of memtable entries that readers walk without locks
/// while one writer inserts.
///
/// Nodes live in the arena (see `SkipListNode` for their layout) and are
/// never removed or changed after being linked in, so a reader holding a
/// node pointer can always keep going. Entries are ordered by internal key
/// in the family's comparator (`Comparator.compareInternal`).
///
/// Publication protocol: the writer fills a node's entry and its tower of
/// links completely, then links it into level 0, then level 1 and up, each
/// with a release store into the predecessor's link. Readers load links
/// with acquire, so any node they reach is fully written. A reader may see
/// a node at level 0 before it appears at higher levels; that only makes
/// its search take a longer path. The list height is an atomic read
/// relaxed: a reader seeing the new height before the head's new links
/// finds nil at those levels and simply descends.
///
/// Thread safety: `insert` needs one writer at a time (callers serialise
/// writers); all other methods may run on any number of threads
/// concurrently with it. That contract, not the type system, is why this
/// is `@unchecked Sendable`: the only mutable state outside the atomic
/// height (`randomState`, the `splice` scratch array) is touched only by
/// the writer.
final class SkipList: @unchecked Sendable {
    static let maxHeight = 12

    let arena: Arena
    /// The order of user keys.
    let comparator: KeyOrder
    /// Keeps `comparator`'s object alive (`KeyOrder` does not retain it).
    private let retainedComparator: Comparator
    /// The head sentinel: a full-height tower with an empty, never-read entry.
    private let head: SkipListNode
    /// Height of the tallest node inserted so far (at least 1).
    private let height = Atomic<Int>(1)
    /// Writer-only scratch: the predecessor at each level of the node being inserted.
    private let splice: UnsafeMutablePointer<UnsafeMutableRawPointer?>
    /// Writer-only xorshift64 state for choosing node heights.
    private var randomState: UInt64
    /// Whether `splice` holds the insert position of the last insert (the
    /// new node at each of its levels, its predecessors above). Writer only.
    private var spliceValid = false

    init(arena: Arena, comparator: Comparator, seed: UInt64 = 0x9E37_79B9_7F4A_7C15) {
        self.arena = arena
        self.comparator = KeyOrder(comparator)
        self.retainedComparator = comparator
        let towerBytes = Self.maxHeight * 8
        let headBase = arena.allocate(towerBytes, alignment: 8)
        headBase.initializeMemory(as: UnsafeMutableRawPointer?.self, repeating: nil, count: Self.maxHeight)
        head = SkipListNode(headBase + towerBytes)
        splice = arena.allocate(towerBytes, alignment: 8)
            .initializeMemory(as: UnsafeMutableRawPointer?.self, repeating: nil, count: Self.maxHeight)
        randomState = seed == 0 ? 1 : seed
    }

    /// True when nothing has been inserted.
    var isEmpty: Bool { head.next(0) == nil }

    // MARK: Writer

    /// Inserts the entry `(userKey + trailer) -> value`. Writer only.
    /// Allocates nothing but arena memory.
    func insert(userKey: UnsafeRawBufferPointer, trailer: UInt64, value: UnsafeRawBufferPointer) {
        let keyLength = userKey.count &+ 8
        let valueLength = value.count
        precondition(keyLength <= Int(UInt32.max) && valueLength <= Int(UInt32.max), "memtable entry too large")
        let nodeHeight = randomHeight()
        let entrySize = varintLength(UInt64(keyLength)) &+ keyLength &+ varintLength(UInt64(valueLength)) &+ valueLength
        let base = arena.allocate(nodeHeight &* 8 &+ entrySize, alignment: 8)
        let node = SkipListNode(base + nodeHeight &* 8)

        // Fill the entry before the node becomes reachable.
        var p = node.entry
        p += storeVarint32(p, keyLength)
        if let src = userKey.baseAddress, userKey.count > 0 {
            p.copyMemory(from: src, byteCount: userKey.count)
            p += userKey.count
        }
        storeFixed64(p, trailer)
        p += 8
        p += storeVarint32(p, valueLength)
        if let src = value.baseAddress, valueLength > 0 {
            p.copyMemory(from: src, byteCount: valueLength)
        }

        // Keys arriving in order (sequential fills, a log's replay of them)
        // land right after the previous insert: then the recorded splice is
        // already the insert position and the descent is skipped.
        if !spliceFits(userKey: userKey, trailer: trailer) {
            _ = findGreaterOrEqual(userKey: userKey, trailer: trailer, recordSplice: true)
        }
        let listHeight = height.load(ordering: .relaxed)
        if nodeHeight > listHeight {
            for level in listHeight..<nodeHeight { splice[level] = head.entry }
            height.store(nodeHeight, ordering: .relaxed)
        }
        for level in 0..<nodeHeight {
            let predecessor = SkipListNode(splice[level].unsafelyUnwrapped)
            // Only the writer changes links, so a relaxed read of the
            // predecessor's link is current; the node is not yet visible,
            // so its own link can be written relaxed too.
            strata_store_relaxed_ptr(node.link(level), strata_load_relaxed_ptr(UnsafePointer(predecessor.link(level))))
            strata_store_release_ptr(predecessor.link(level), node.entry)
            splice[level] = node.entry
        }
        spliceValid = true
    }

    /// Whether the splice left by the last insert is the insert position of
    /// (`userKey`, `trailer`): its level-0 predecessor sorts before the key
    /// and that predecessor's successor does not. Enough for every level:
    /// each level's splice interval contains the level below's (a level's
    /// predecessor is at or before the one below it, its successor at or
    /// after), so a key inside the level-0 interval is inside all of them.
    /// Two comparisons on nodes the last insert just touched, so a random
    /// key that fails the test costs little next to its descent.
    @inline(__always)
    private func spliceFits(userKey: UnsafeRawBufferPointer, trailer: UInt64) -> Bool {
        guard spliceValid, let before = splice[0] else { return false }
        if before != head.entry && !nodeIsLess(SkipListNode(before), userKey: userKey, trailer: trailer) { return false }
        if let after = SkipListNode(before).next(0), nodeIsLess(SkipListNode(after), userKey: userKey, trailer: trailer) {
            return false
        }
        return true
    }

    @inline(__always)
    private func nodeIsLess(_ node: SkipListNode, userKey: UnsafeRawBufferPointer, trailer: UInt64) -> Bool {
        if comparator.isBytewise { return node.compare(userKey: userKey, trailer: trailer, BytewiseKeyOrder()) < 0 }
        return node.compare(userKey: userKey, trailer: trailer, comparator) < 0
    }

    /// Height 1 with probability 3/4, each further level with 1/4, capped.
    @inline(__always)
    private func randomHeight() -> Int {
        var x = randomState
        x ^= x << 13
        x ^= x >> 7
        x ^= x << 17
        randomState = x
        var bits = x
        var h = 1
        while h < Self.maxHeight && bits & 3 == 0 {
            h &+= 1
            bits >>= 2
        }
        return h
    }

    // MARK: Readers

    /// Walks down from the top level to the place of `(userKey, trailer)`:
    /// returns the last node < the target at level 0 (`head` if none) and the
    /// first node >= it (nil if none). With `recordSplice` the predecessor at
    /// every level goes into `splice` (writer only).
    @inline(__always)
    private func descend(userKey: UnsafeRawBufferPointer, trailer: UInt64, recordSplice: Bool)
        -> (predecessor: SkipListNode, next: UnsafeMutableRawPointer?)
    {
        // One test of the order per descent, not per node (see `KeyOrdering`).
        if comparator.isBytewise {
            return descend(userKey: userKey, trailer: trailer, recordSplice: recordSplice, BytewiseKeyOrder())
        }
        return descend(userKey: userKey, trailer: trailer, recordSplice: recordSplice, comparator)
    }

    @inline(__always)
    private func descend<O: KeyOrdering>(userKey: UnsafeRawBufferPointer, trailer: UInt64, recordSplice: Bool, _ comparator: O)
        -> (predecessor: SkipListNode, next: UnsafeMutableRawPointer?)
    {
        var x = head
        var level = height.load(ordering: .relaxed) &- 1
        // The node last found to be >= the target: when a lower level leads
        // to it again it need not be compared a second time.
        var knownNotLess: UnsafeMutableRawPointer? = nil
        while true {
            let next = x.next(level)
            if let n = next, n != knownNotLess, SkipListNode(n).compare(userKey: userKey, trailer: trailer, comparator) < 0 {
                x = SkipListNode(n)
                continue
            }
            knownNotLess = next
            if recordSplice { splice[level] = x.entry }
            if level == 0 { return (x, next) }
            level &-= 1
        }
    }

    /// The first node whose key is >= `(userKey, trailer)`, or nil. With
    /// `recordSplice` the predecessor at every level goes into `splice`
    /// (writer only).
    @inline(__always)
    func findGreaterOrEqual(userKey: UnsafeRawBufferPointer, trailer: UInt64, recordSplice: Bool = false) -> SkipListNode? {
        descend(userKey: userKey, trailer: trailer, recordSplice: recordSplice).next.map(SkipListNode.init)
    }

    /// The last node whose key is < `(userKey, trailer)`, or nil.
    func findLessThan(userKey: UnsafeRawBufferPointer, trailer: UInt64) -> SkipListNode? {
        let x = descend(userKey: userKey, trailer: trailer, recordSplice: false).predecessor
        return x == head ? nil : x
    }

    /// The first node, or nil when empty.
    func first() -> SkipListNode? { head.next(0).map(SkipListNode.init) }

    /// The last node, or nil when empty.
    func last() -> SkipListNode? {
        var x = head
        var level = height.load(ordering: .relaxed) &- 1
        while true {
            if let n = x.next(level) {
                x = SkipListNode(n)
                continue
            }
            if level == 0 { return x == head ? nil : x }
            level &-= 1
        }
    }

    /// The node before `node`, or nil when it is the first.
    func predecessor(of node: SkipListNode) -> SkipListNode? {
        let key = node.internalKey
        return findLessThan(userKey: userKeyOf(key), trailer: trailerOf(key))
    }
}
