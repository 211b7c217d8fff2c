/// The cursor every internal source implements: memtable, block, table,
/// level and merging iterators. Keys are internal keys (see InternalKey.swift).
///
/// `key` and `value` point into memory the iterator owns; they stay valid
/// only until the iterator next moves. Callers copy what they keep.
/// Errors (a checksum mismatch while loading a block, say) make the
/// iterator invalid and are reported by `status()`.
protocol InternalIterator: AnyObject {
    var isValid: Bool { get }
    func seekToFirst()
    func seekToLast()
    /// Positions at the first entry with internal key >= target.
    func seek(_ target: UnsafeRawBufferPointer)
    func next()
    func prev()
    var key: UnsafeRawBufferPointer { get }
    var value: UnsafeRawBufferPointer { get }
    /// The first error met, if any.
    func status() -> StrataError?
}

/// An iterator over nothing, optionally carrying an error.
final class EmptyIterator: InternalIterator {
    let error: StrataError?
    init(error: StrataError? = nil) { self.error = error }
    var isValid: Bool { false }
    func seekToFirst() {}
    func seekToLast() {}
    func seek(_ target: UnsafeRawBufferPointer) {}
    func next() {}
    func prev() {}
    var key: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: nil, count: 0) }
    var value: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: nil, count: 0) }
    func status() -> StrataError? { error }
}
