/// The commit leader's reusable buffer for the log record of a group: the
/// stamped header followed by every member batch's records.
///
/// Building the record here instead of stamping the caller's `WriteBatch`
/// saves the copy-on-write copy that stamping a batch still referenced by
/// the caller costs (an allocation and a copy per write), and for groups the
/// combined batch's allocation. Only the leader uses it, one group at a
/// time (the group-commit protocol guarantees a single leader), so it needs
/// no lock of its own; `@unchecked Sendable` rests on that rule.
final class CommitScratch: @unchecked Sendable {
    /// Bytes kept between groups; a larger group gets a buffer of its own
    /// that is freed afterwards, so one huge batch does not pin memory.
    static let retainedCapacity = 4 << 20

    @exclusivity(unchecked) private var buffer: UnsafeMutableRawPointer
    @exclusivity(unchecked) private var capacity: Int

    init() {
        capacity = 64 << 10
        buffer = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
    }

    deinit { buffer.deallocate() }

    /// Calls `body` with the encoding of `batches` as one batch stamped with
    /// `sequence` and `count` records. Leader only.
    func withRecord<R>(of batches: some Sequence<WriteBatch>, bytes: Int, sequence: SequenceNumber, count: UInt32,
                       _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        let total = WriteBatch.headerSize + bytes
        let big = total > capacity
        let p: UnsafeMutableRawPointer
        if big && total <= Self.retainedCapacity {
            buffer.deallocate()
            capacity = max(total, capacity * 2)
            buffer = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
            p = buffer
        } else if big {
            p = UnsafeMutableRawPointer.allocate(byteCount: total, alignment: 16)
        } else {
            p = buffer
        }
        defer { if p != buffer { p.deallocate() } }
        storeFixed64(p, sequence)
        storeFixed32(p + 8, count)
        var at = WriteBatch.headerSize
        for b in batches {
            b.rep.withUnsafeBytes { src in
                let n = src.count - WriteBatch.headerSize
                if n > 0 { (p + at).copyMemory(from: src.baseAddress! + WriteBatch.headerSize, byteCount: n) }
                at += n
            }
        }
        return try body(UnsafeRawBufferPointer(start: p, count: at))
    }
}
