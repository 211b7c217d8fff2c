/// A map from a two-word key to values, with an intrusive least-recently-used
/// list and byte-exact charge accounting: the core of the block cache and the
/// table cache.
///
/// Built for lookups that happen on every read: the index is an
/// open-addressing table (linear probing, at most half full, backward-shift
/// deletion so there are no tombstones) whose slots hold the key inline, so
/// a hit costs one multiply-shift hash and usually one cache line; the LRU
/// list links entries by index in one array, so a hit allocates nothing.
///
/// Not thread-safe: each owner keeps it behind a lock.
struct LRUTable<Value> {
    /// An index slot: the key and where its entry lives (`entry < 0`: empty).
    private struct Slot {
        var k0: UInt64
        var k1: UInt64
        var entry: Int32
    }

    private struct Entry {
        var k0: UInt64
        var k1: UInt64
        var value: Value?
        var charge: Int
        var prev: Int32
        var next: Int32
    }

    /// Sum of charges above which least recently used entries are dropped.
    let capacity: Int
    /// Sum of the charges of the entries held.
    private(set) var usage = 0
    /// Entries held.
    private(set) var count = 0

    private var slots: [Slot]
    /// `64 - log2(slots.count)`: the hash's top bits pick the home slot.
    private var shift: UInt64
    private var entries: [Entry] = []
    private var freeEntries: [Int32] = []
    /// Most recently used entry, or -1.
    private var head: Int32 = -1
    /// Least recently used entry, or -1.
    private var tail: Int32 = -1

    init(capacity: Int) {
        self.capacity = max(0, capacity)
        slots = Array(repeating: Slot(k0: 0, k1: 0, entry: -1), count: 16)
        shift = 64 - 4
    }

    /// Mixes both key words so that nearby offsets and small file numbers
    /// spread over the whole table (multiply-xorshift; not cryptographic,
    /// keys are not attacker-chosen).
    @inline(__always)
    static func hash(_ k0: UInt64, _ k1: UInt64) -> UInt64 {
        var h = (k0 &* 0x9E37_79B9_7F4A_7C15) ^ k1
        h = (h ^ (h >> 31)) &* 0xBF58_476D_1CE4_E5B9
        return h ^ (h >> 29)
    }

    @inline(__always)
    private func home(_ h: UInt64) -> Int { Int(truncatingIfNeeded: h >> shift) }

    /// The slot holding the key, or nil.
    @inline(__always)
    private func findSlot(_ k0: UInt64, _ k1: UInt64) -> Int? {
        let mask = slots.count - 1
        var i = home(Self.hash(k0, k1))
        while true {
            let s = slots[i]
            if s.entry < 0 { return nil }
            if s.k0 == k0 && s.k1 == k1 { return i }
            i = (i + 1) & mask
        }
    }

    /// The value of the key, made most recently used; nil when absent.
    @inline(__always)
    mutating func get(_ k0: UInt64, _ k1: UInt64) -> Value? {
        guard let s = findSlot(k0, k1) else { return nil }
        let e = slots[s].entry
        moveToFront(e)
        return entries[Int(e)].value
    }

    /// The value of the key without changing its recency; nil when absent.
    func peek(_ k0: UInt64, _ k1: UInt64) -> Value? {
        guard let s = findSlot(k0, k1) else { return nil }
        return entries[Int(slots[s].entry)].value
    }

    /// Stores `value` under the key as the most recently used entry, then
    /// drops least recently used entries until the charges fit the capacity
    /// (or `limit`, when that is lower), handing each dropped value to
    /// `evicted`. A value whose charge alone exceeds that is not stored (and
    /// any old value of the key is dropped). Returns whether it was stored.
    @discardableResult
    mutating func insert(_ k0: UInt64, _ k1: UInt64, _ value: Value, charge: Int, limit: Int = .max,
                         evicted: (Value) -> Void) -> Bool {
        let capacity = max(0, min(self.capacity, limit))
        if let s = findSlot(k0, k1) {
            let e = slots[s].entry
            if charge > capacity {
                if let old = removeSlot(s) { evicted(old) }
                return false
            }
            usage += charge - entries[Int(e)].charge
            let old = entries[Int(e)].value
            entries[Int(e)].value = value
            entries[Int(e)].charge = charge
            moveToFront(e)
            if let old { evicted(old) }
        } else {
            guard charge <= capacity else { return false }
            if (count + 1) * 2 > slots.count { grow() }
            let e: Int32
            let fresh = Entry(k0: k0, k1: k1, value: value, charge: charge, prev: -1, next: -1)
            if let f = freeEntries.popLast() {
                e = f
                entries[Int(f)] = fresh
            } else {
                e = Int32(entries.count)
                entries.append(fresh)
            }
            placeSlot(Slot(k0: k0, k1: k1, entry: e))
            linkAtFront(e)
            usage += charge
            count += 1
        }
        while usage > capacity && tail >= 0 {
            let t = tail
            if let old = remove(entries[Int(t)].k0, entries[Int(t)].k1) { evicted(old) }
        }
        return true
    }

    /// Drops the key's entry; returns its value.
    @discardableResult
    mutating func remove(_ k0: UInt64, _ k1: UInt64) -> Value? {
        guard let s = findSlot(k0, k1) else { return nil }
        return removeSlot(s)
    }

    /// Drops every entry whose first key word is `k0`, handing each value to `evicted`.
    mutating func removeAll(k0: UInt64, evicted: (Value) -> Void) {
        var e = head
        while e >= 0 {
            let next = entries[Int(e)].next
            if entries[Int(e)].k0 == k0, let v = remove(k0, entries[Int(e)].k1) { evicted(v) }
            e = next
        }
    }

    /// Keys from most to least recently used (for tests and diagnostics).
    var keysByRecency: [(UInt64, UInt64)] {
        var out: [(UInt64, UInt64)] = []
        var e = head
        while e >= 0 {
            out.append((entries[Int(e)].k0, entries[Int(e)].k1))
            e = entries[Int(e)].next
        }
        return out
    }

    // MARK: index

    private mutating func placeSlot(_ slot: Slot) {
        let mask = slots.count - 1
        var i = home(Self.hash(slot.k0, slot.k1))
        while slots[i].entry >= 0 { i = (i + 1) & mask }
        slots[i] = slot
    }

    private mutating func grow() {
        let old = slots
        slots = Array(repeating: Slot(k0: 0, k1: 0, entry: -1), count: old.count * 2)
        shift -= 1
        for s in old where s.entry >= 0 { placeSlot(s) }
    }

    /// Empties slot `s` and its entry, shifting later members of the probe
    /// run back so every key stays reachable from its home slot.
    private mutating func removeSlot(_ s: Int) -> Value? {
        let e = slots[s].entry
        let mask = slots.count - 1
        var hole = s
        var j = (s + 1) & mask
        while slots[j].entry >= 0 {
            let h = home(Self.hash(slots[j].k0, slots[j].k1))
            // Move j into the hole unless its home lies cyclically after the hole.
            if (j &- h) & mask >= (j &- hole) & mask {
                slots[hole] = slots[j]
                hole = j
            }
            j = (j + 1) & mask
        }
        slots[hole].entry = -1

        unlink(e)
        usage -= entries[Int(e)].charge
        let value = entries[Int(e)].value
        entries[Int(e)].value = nil
        entries[Int(e)].charge = 0
        freeEntries.append(e)
        count -= 1
        return value
    }

    // MARK: recency list

    @inline(__always)
    private mutating func moveToFront(_ e: Int32) {
        guard head != e else { return }
        unlink(e)
        linkAtFront(e)
    }

    private mutating func unlink(_ e: Int32) {
        let p = entries[Int(e)].prev, n = entries[Int(e)].next
        if p >= 0 { entries[Int(p)].next = n } else { head = n }
        if n >= 0 { entries[Int(n)].prev = p } else { tail = p }
        entries[Int(e)].prev = -1
        entries[Int(e)].next = -1
    }

    private mutating func linkAtFront(_ e: Int32) {
        entries[Int(e)].prev = -1
        entries[Int(e)].next = head
        if head >= 0 { entries[Int(head)].prev = e }
        head = e
        if tail < 0 { tail = e }
    }
}
