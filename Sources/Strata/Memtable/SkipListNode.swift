import CStrataSupport

/// A handle on one skip-list node living in arena memory.
///
/// Layout (see Docs/format-memtable.md): the node's tower of `height` link
/// words comes first, link `height-1` lowest in memory and link 0 in the
/// word just before the entry; `entry` points at the entry, which is
/// `varint32 internalKeyLength, internal key, varint32 valueLength, value`.
/// Putting the tower before the entry lets every node be addressed by its
/// entry pointer without storing its height.
struct SkipListNode: Equatable {
    let entry: UnsafeMutableRawPointer

    @inline(__always)
    init(_ entry: UnsafeMutableRawPointer) { self.entry = entry }

    /// The link word for `level`.
    @inline(__always)
    func link(_ level: Int) -> UnsafeMutablePointer<UnsafeMutableRawPointer?> {
        (entry - 8 &* (level &+ 1)).assumingMemoryBound(to: UnsafeMutableRawPointer?.self)
    }

    /// Successor at `level`, with acquire ordering so the successor's bytes
    /// written before it was published are visible.
    @inline(__always)
    func next(_ level: Int) -> UnsafeMutableRawPointer? {
        strata_load_acquire_ptr(UnsafePointer(link(level)))
    }

    /// The internal key stored in the entry.
    @inline(__always)
    var internalKey: UnsafeRawBufferPointer {
        let (length, prefix) = decodeTrustedVarint32(entry)
        return UnsafeRawBufferPointer(start: entry + prefix, count: length)
    }

    /// The value stored after the key.
    @inline(__always)
    var value: UnsafeRawBufferPointer {
        let (keyLength, keyPrefix) = decodeTrustedVarint32(entry)
        let valueField = entry + (keyPrefix &+ keyLength)
        let (length, prefix) = decodeTrustedVarint32(valueField)
        return UnsafeRawBufferPointer(start: valueField + prefix, count: length)
    }

    /// Three-way comparison of this node's key with the internal key
    /// `(userKey, trailer)`: user keys ascending in `comparator`'s order,
    /// then trailers descending.
    @inline(__always)
    func compare<O: KeyOrdering>(userKey: UnsafeRawBufferPointer, trailer: UInt64, _ comparator: O) -> Int {
        let (length, prefix) = decodeTrustedVarint32(entry)
        let key = entry + prefix
        let userLength = length &- 8
        let r = comparator.compare(UnsafeRawBufferPointer(start: key, count: userLength), userKey)
        if r != 0 { return r }
        let t = loadFixed64(key + userLength)
        return t > trailer ? -1 : (t < trailer ? 1 : 0)
    }
}

/// Decodes a varint32 the memtable wrote itself, so no bounds checks.
/// Returns the value and the number of bytes it took.
@inline(__always)
func decodeTrustedVarint32(_ p: UnsafeRawPointer) -> (value: Int, length: Int) {
    let b0 = p.load(as: UInt8.self)
    if b0 < 0x80 { return (Int(b0), 1) }
    var result = Int(b0 & 0x7f)
    var shift = 7
    var i = 1
    while true {
        let b = p.load(fromByteOffset: i, as: UInt8.self)
        i &+= 1
        result |= Int(b & 0x7f) << shift
        if b < 0x80 { return (result, i) }
        shift &+= 7
    }
}

/// Writes `v` as a varint at `p`; returns the number of bytes written.
@inline(__always)
func storeVarint32(_ p: UnsafeMutableRawPointer, _ v: Int) -> Int {
    var v = UInt32(truncatingIfNeeded: v)
    var i = 0
    while v >= 0x80 {
        p.storeBytes(of: UInt8(truncatingIfNeeded: v) | 0x80, toByteOffset: i, as: UInt8.self)
        v >>= 7
        i &+= 1
    }
    p.storeBytes(of: UInt8(truncatingIfNeeded: v), toByteOffset: i, as: UInt8.self)
    return i &+ 1
}
