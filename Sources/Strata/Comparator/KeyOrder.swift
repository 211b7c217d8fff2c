/// A comparator as the hot paths hold it: the byte-wise flag is copied out
/// of the class, so the default order is tested and run (memcmp inlined)
/// without loading, retaining or calling the `Comparator` object; only the
/// other orders go through it.
///
/// The reference is `unowned(unsafe)`, so copying a `KeyOrder` (closures,
/// locals) never retains: whoever stores one must also hold a strong
/// reference to the comparator for as long (the built-in ones live forever).
/// Measured: holding the `Comparator` strongly in the merging iterator and
/// the user iterator cost readseq ~20% in retain/release traffic.
struct KeyOrder: @unchecked Sendable {
    /// The comparator; not retained (see above).
    unowned(unsafe) let comparator: Comparator
    /// `comparator.isBytewise`.
    let isBytewise: Bool

    @inline(__always)
    init(_ comparator: Comparator) {
        self.comparator = comparator
        self.isBytewise = comparator.isBytewise
    }

    /// Three-way comparison of two user keys.
    @inline(__always)
    func compare(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Int {
        if _fastPath(isBytewise) { return compareBytes(a, b) }
        return comparator.compare(a, b)
    }

    /// Three-way comparison of two internal keys (user keys, then trailers descending).
    @inline(__always)
    func compareInternal(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Int {
        if _fastPath(isBytewise) { return compareInternalKeys(a, b) }
        return comparator.compareInternal(a, b)
    }
}

/// A user-key order that hot loops are specialized for: `BytewiseKeyOrder`
/// (memcmp, no state) or `KeyOrder` (any comparator). A loop generic over
/// it tests the byte-wise flag once per call, when it picks the
/// specialization, instead of once per comparison: the skip-list descent
/// and the version's file search then run exactly the byte-wise code they
/// ran before comparators existed (callgrind: the per-comparison test had
/// cost a point lookup ~7% more instructions).
protocol KeyOrdering {
    /// Three-way comparison of two user keys.
    func compare(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Int
    /// Three-way comparison of two internal keys (user keys, then trailers descending).
    func compareInternal(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Int
}

/// Byte-wise order with nothing to load: the specialization of the default.
struct BytewiseKeyOrder: KeyOrdering {
    @inline(__always)
    func compare(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Int { compareBytes(a, b) }

    @inline(__always)
    func compareInternal(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Int { compareInternalKeys(a, b) }
}

extension KeyOrder: KeyOrdering {}
