/// A map from a two-word key to values, with an intrusive least-recently-used
/// list and byte-exact charge accounting: the core of the block cache and the
/// table cache.
///
/// Built for lookups that happen on every read: the index is an
/// open-addressing table (linear probing, at most half full, backward-shift
/// deletion so there are no tombstones) whose slots hold the key inline, so
/// a hit costs one multiply-shift hash and usually one cache line; the LRU
/// list links entries by index. Slots and entries live in raw buffers (no
/// copy-on-write or exclusivity checks on the relinking a hit does), values
/// in a parallel buffer so relinking never retains one. A hit allocates nothing.
///
/// Not thread-safe: each owner keeps it behind a lock.
final class LRUTable<Value> {
    /// An index slot: the key and where its entry lives (`entry < 0`: empty).
    private struct Slot {
        var k0: UInt64
        var k1: UInt64
        var entry: Int32
    }

    /// An entry's key, charge and recency links (plain data).
    private struct Entry {
        var k0: UInt64
        var k1: UInt64
        var charge: Int
        var prev: Int32
        var next: Int32
    }

    /// Sum of charges above which least recently used entries are dropped.
    let capacity: Int
    /// Sum of the charges of the entries held.
    @exclusivity(unchecked) private(set) var usage = 0
    /// Entries held.
    @exclusivity(unchecked) private(set) var count = 0

    @exclusivity(unchecked) private var slots: UnsafeMutablePointer<Slot>
    @exclusivity(unchecked) private var slotCount: Int
    /// `64 - log2(slotCount)`: the hash's top bits pick the home slot.
    @exclusivity(unchecked) private var shift: UInt64
    @exclusivity(unchecked) private var entries: UnsafeMutablePointer<Entry>
    /// `values[i]` belongs to `entries[i]`; nil for a free entry. The first
    /// `entriesUsed` are initialized.
    @exclusivity(unchecked) private var values: UnsafeMutablePointer<Value?>
    @exclusivity(unchecked) private var entryCapacity: Int
    @exclusivity(unchecked) private var entriesUsed = 0
    @exclusivity(unchecked) private var freeEntries: [Int32] = []
    /// Most recently used entry, or -1.
    @exclusivity(unchecked) private var head: Int32 = -1
    /// Least recently used entry, or -1.
    @exclusivity(unchecked) private var tail: Int32 = -1

    init(capacity: Int) {
        self.capacity = max(0, capacity)
        slotCount = 16
        shift = 64 - 4
        slots = .allocate(capacity: 16)
        slots.initialize(repeating: Slot(k0: 0, k1: 0, entry: -1), count: 16)
        entryCapacity = 8
        entries = .allocate(capacity: 8)
        values = .allocate(capacity: 8)
    }

    deinit {
        values.deinitialize(count: entriesUsed)
        values.deallocate()
        entries.deallocate()
        slots.deallocate()
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
        let mask = slotCount - 1
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
    func get(_ k0: UInt64, _ k1: UInt64) -> Value? {
        guard let s = findSlot(k0, k1) else { return nil }
        let e = slots[s].entry
        moveToFront(e)
        return values[Int(e)]
    }

    /// The value of the key without changing its recency; nil when absent.
    func peek(_ k0: UInt64, _ k1: UInt64) -> Value? {
        guard let s = findSlot(k0, k1) else { return nil }
        return values[Int(slots[s].entry)]
    }

    /// Stores `value` under the key as the most recently used entry, then
    /// drops least recently used entries until the charges fit the capacity
    /// (or `limit`, when that is lower), handing each dropped value to
    /// `evicted`. A value whose charge alone exceeds that is not stored (and
    /// any old value of the key is dropped). Returns whether it was stored.
    @discardableResult
    func insert(_ k0: UInt64, _ k1: UInt64, _ value: Value, charge: Int, limit: Int = .max,
                evicted: (Value) -> Void) -> Bool {
        let capacity = max(0, min(self.capacity, limit))
        if let s = findSlot(k0, k1) {
            let e = Int(slots[s].entry)
            if charge > capacity {
                if let old = removeSlot(s) { evicted(old) }
                return false
            }
            usage += charge - entries[e].charge
            let old = values[e]
            values[e] = value
            entries[e].charge = charge
            moveToFront(Int32(e))
            if let old { evicted(old) }
        } else {
            guard charge <= capacity else { return false }
            if (count + 1) * 2 > slotCount { growSlots() }
            let e: Int32
            if let f = freeEntries.popLast() {
                e = f
                values[Int(f)] = value
            } else {
                if entriesUsed == entryCapacity { growEntries() }
                e = Int32(entriesUsed)
                (values + entriesUsed).initialize(to: value)
                entriesUsed += 1
            }
            entries[Int(e)] = Entry(k0: k0, k1: k1, charge: charge, prev: -1, next: -1)
            placeSlot(Slot(k0: k0, k1: k1, entry: e))
            linkAtFront(e)
            usage += charge
            count += 1
        }
        while usage > capacity && tail >= 0 {
            let t = Int(tail)
            if let old = remove(entries[t].k0, entries[t].k1) { evicted(old) }
        }
        return true
    }

    /// Drops the key's entry; returns its value.
    @discardableResult
    func remove(_ k0: UInt64, _ k1: UInt64) -> Value? {
        guard let s = findSlot(k0, k1) else { return nil }
        return removeSlot(s)
    }

    /// Drops every entry whose first key word is `k0`, handing each value to `evicted`.
    func removeAll(k0: UInt64, evicted: (Value) -> Void) {
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

    // MARK: storage

    private func placeSlot(_ slot: Slot) {
        let mask = slotCount - 1
        var i = home(Self.hash(slot.k0, slot.k1))
        while slots[i].entry >= 0 { i = (i + 1) & mask }
        slots[i] = slot
    }

    private func growSlots() {
        let old = slots, oldCount = slotCount
        slotCount *= 2
        shift -= 1
        slots = .allocate(capacity: slotCount)
        slots.initialize(repeating: Slot(k0: 0, k1: 0, entry: -1), count: slotCount)
        for i in 0..<oldCount where old[i].entry >= 0 { placeSlot(old[i]) }
        old.deallocate()
    }

    private func growEntries() {
        let newCapacity = entryCapacity * 2
        let newEntries = UnsafeMutablePointer<Entry>.allocate(capacity: newCapacity)
        newEntries.moveInitialize(from: entries, count: entriesUsed)
        entries.deallocate()
        entries = newEntries
        let newValues = UnsafeMutablePointer<Value?>.allocate(capacity: newCapacity)
        newValues.moveInitialize(from: values, count: entriesUsed)
        values.deallocate()
        values = newValues
        entryCapacity = newCapacity
    }

    /// Empties slot `s` and its entry, shifting later members of the probe
    /// run back so every key stays reachable from its home slot.
    private func removeSlot(_ s: Int) -> Value? {
        let e = slots[s].entry
        let mask = slotCount - 1
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
        entries[Int(e)].charge = 0
        let value = values[Int(e)]
        values[Int(e)] = nil
        freeEntries.append(e)
        count -= 1
        return value
    }

    // MARK: recency list

    @inline(__always)
    private func moveToFront(_ e: Int32) {
        guard head != e else { return }
        unlink(e)
        linkAtFront(e)
    }

    @inline(__always)
    private func unlink(_ e: Int32) {
        let p = entries[Int(e)].prev, n = entries[Int(e)].next
        if p >= 0 { entries[Int(p)].next = n } else { head = n }
        if n >= 0 { entries[Int(n)].prev = p } else { tail = p }
        entries[Int(e)].prev = -1
        entries[Int(e)].next = -1
    }

    @inline(__always)
    private func linkAtFront(_ e: Int32) {
        entries[Int(e)].prev = -1
        entries[Int(e)].next = head
        if head >= 0 { entries[Int(head)].prev = e }
        head = e
        if tail < 0 { tail = e }
    }
}
