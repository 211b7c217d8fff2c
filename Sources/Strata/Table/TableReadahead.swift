/// Readahead for one table iterator: once it has read three data blocks
/// that follow each other in the file, block-cache misses are served from
/// one larger `pread` (16 KiB, doubling per refill up to 256 KiB) instead
/// of one system call per ~2 KiB block. A scan or a compaction input reads
/// a table front to back, so this turns thousands of small reads into a
/// few dozen; a reader jumping around (seeks) never triggers it.
///
/// Mapped files need none (the iterator decodes from the mapping), and a
/// block that fails its checksum is an error exactly as without readahead:
/// the bytes come from the same file, only in fewer calls.
///
/// Owned by one `TableIterator` and used by one thread at a time.
final class TableReadahead {
    static let initialSize = 16 << 10
    static let maxSize = 256 << 10
    /// Consecutive sequential block reads before reading ahead.
    static let trigger = 2

    private var buffer: UnsafeMutableRawPointer?
    private var capacity = 0
    /// File range held in `buffer`.
    private var start: UInt64 = 0
    private var length = 0
    /// Size of the next refill.
    private var nextSize = initialSize
    /// Where the block after the last one read starts.
    private var expectedOffset: UInt64 = .max
    private var sequentialReads = 0

    init() {}

    deinit { buffer?.deallocate() }

    /// The bytes of the block at `handle` and its trailer, from the buffer
    /// (refilled as needed) when the access pattern is sequential; nil
    /// when the caller should read the block on its own. `dataEnd` bounds
    /// every read.
    func blockBytes(_ handle: BlockHandle, file: any ReadableFile, path: String, dataEnd: UInt64) throws -> UnsafeRawBufferPointer? {
        // A damaged handle is left to the plain read, which reports it.
        guard let end = handle.trailerEnd(within: dataEnd) else {
            sequentialReads = 0
            expectedOffset = .max
            return nil
        }
        let total = Int(end - handle.offset)
        if handle.offset == expectedOffset { sequentialReads += 1 } else { sequentialReads = 0 }
        expectedOffset = end
        guard sequentialReads >= Self.trigger, total <= Self.maxSize else { return nil }
        if !(handle.offset >= start && end <= start + UInt64(length)) {
            let size = min(max(nextSize, total), Int(dataEnd - handle.offset))
            if capacity < size {
                buffer?.deallocate()
                buffer = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 8)
                capacity = size
            }
            length = 0
            let n = try file.read(at: handle.offset, into: UnsafeMutableRawBufferPointer(start: buffer, count: size))
            guard n >= total else {
                throw StrataError(.corruption, "\(path): short read of block at offset \(handle.offset): wanted \(total) bytes, got \(n)")
            }
            start = handle.offset
            length = n
            nextSize = min(Self.maxSize, nextSize * 2)
        }
        return UnsafeRawBufferPointer(start: buffer! + Int(handle.offset - start), count: total)
    }
}
