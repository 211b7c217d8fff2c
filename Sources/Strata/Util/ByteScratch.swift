/// A growable byte buffer over raw memory it owns, for a hot loop that
/// replaces a short key again and again (the user iterator's saved key).
///
/// An array did the same job at a cost per replacement: a uniqueness check
/// and the generic range replacement of `removeAll(keepingCapacity:)`, then
/// `append(contentsOf:)` (perf: ~4% of readseq). Noncopyable, so the memory
/// has exactly one owner.
struct ByteScratch: ~Copyable {
    private var base: UnsafeMutableRawPointer?
    private var capacity = 0
    private(set) var count = 0

    init() {}

    deinit { base?.deallocate() }

    /// The bytes held; valid until the next mutation.
    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }

    /// A copy of the bytes held.
    var array: [UInt8] { [UInt8](bytes) }

    /// Replaces the contents with a copy of `source` (which must not point
    /// into this buffer).
    @inline(__always)
    mutating func set(_ source: UnsafeRawBufferPointer) {
        if source.count > capacity { grow(to: source.count) }
        if source.count > 0 { base!.copyMemory(from: source.baseAddress!, byteCount: source.count) }
        count = source.count
    }

    /// Empties the buffer, keeping its memory.
    @inline(__always)
    mutating func removeAll() { count = 0 }

    private mutating func grow(to needed: Int) {
        var newCapacity = max(32, capacity)
        while newCapacity < needed { newCapacity *= 2 }
        base?.deallocate()
        base = .allocate(byteCount: newCapacity, alignment: 8)
        capacity = newCapacity
    }
}
