import Foundation

/// Where a message stands in its queue: visibility time, then arrival order.
struct QueuePosition: Comparable, Hashable {
    var visibleAt: Int64
    var sequence: UInt64
    static func < (a: QueuePosition, b: QueuePosition) -> Bool {
        (a.visibleAt, a.sequence) < (b.visibleAt, b.sequence)
    }
}

/// The messages of one queue of the in-memory store, three ways:
/// - `order`: every stored message by position (pending, recent, stats) —
///   a sorted array whose removals only mark the entry dead (found by
///   binary search) and are swept once dead entries are half the array, so
///   the usual appends at the end and removals anywhere are O(log n)
///   amortised (an add scheduled before the newest costs one array insert);
/// - `ready`: the unlocked messages, a min-heap by position — receive pops
///   the oldest in O(log n);
/// - `locks`: held locks by end time, a min-heap — expired ones go back to
///   `ready` at the next receive.
/// Heap entries are never removed eagerly: an entry that no longer matches
/// the stored message (acknowledged, moved, relocked) is skipped when it
/// surfaces.
struct QueueIndex {
    struct Slot {
        var position: QueuePosition
        var id: String
        var alive: Bool
    }
    struct Candidate: Comparable {
        var position: QueuePosition
        var id: String
        static func < (a: Candidate, b: Candidate) -> Bool { a.position < b.position }
        static func == (a: Candidate, b: Candidate) -> Bool { a.position == b.position }
    }
    struct LockEnd: Comparable {
        var until: Int64
        var position: QueuePosition
        var id: String
        var lock: UUID
        static func < (a: LockEnd, b: LockEnd) -> Bool { (a.until, a.position) < (b.until, b.position) }
        static func == (a: LockEnd, b: LockEnd) -> Bool { (a.until, a.position) == (b.until, b.position) }
    }

    private(set) var order: [Slot] = []
    /// Entries of `order` before this are dead.
    private var head = 0
    private var dead = 0
    private(set) var live = 0
    var ready = MinHeap<Candidate>()
    var locks = MinHeap<LockEnd>()

    /// Index of `p` in `order` (dead or alive), or where it would go.
    private func index(of p: QueuePosition) -> Int {
        if let last = order.last, last.position < p { return order.count }
        var lo = head, hi = order.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if order[mid].position < p { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    /// A new (unlocked) message.
    mutating func insert(_ p: QueuePosition, id: String) {
        let i = index(of: p)
        if i == order.count { order.append(Slot(position: p, id: id, alive: true)) } else { order.insert(Slot(position: p, id: id, alive: true), at: i) }
        live += 1
        ready.push(Candidate(position: p, id: id))
    }

    /// The message at `p` left the queue.
    mutating func remove(_ p: QueuePosition) {
        let i = index(of: p)
        guard i < order.count, order[i].position == p, order[i].alive else { return }
        order[i].alive = false
        live -= 1
        dead += 1
        while head < order.count && !order[head].alive { head += 1 }
        if dead > 64 && dead * 2 > order.count {
            order.removeAll { !$0.alive }
            head = 0
            dead = 0
        }
    }

    /// Ids of live messages, oldest first.
    func oldest(_ limit: Int) -> [String] {
        var out: [String] = []
        var i = head
        while i < order.count && out.count < limit {
            if order[i].alive { out.append(order[i].id) }
            i += 1
        }
        return out
    }

    /// Ids of live messages, newest first.
    func newest(_ limit: Int) -> [String] {
        var out: [String] = []
        var i = order.count - 1
        while i >= head && out.count < limit {
            if order[i].alive { out.append(order[i].id) }
            i -= 1
        }
        return out
    }

    /// Every live id, oldest first.
    var allIds: [String] { oldest(live) }
}
