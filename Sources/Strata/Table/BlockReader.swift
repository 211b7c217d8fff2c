/// Reads one block and its trailer from a table file, checks the CRC and
/// decompresses it, copying the bytes at most once: an uncompressed block
/// adopts the read buffer; an LZ4 block is decompressed into its own. From
/// a memory-mapped file the checksum and the decompression read the mapping
/// directly, so only the block's own buffer is written.
enum BlockReader {
    /// `dataEnd` is where the footer starts; a handle reaching past it is damage.
    /// `hasEntries` is false for opaque blocks (the filter).
    static func read(_ file: any ReadableFile, path: String, handle: BlockHandle, dataEnd: UInt64,
                     verifyChecksum: Bool, hasEntries: Bool = true) throws -> Block {
        guard handle.trailerEnd(within: dataEnd) != nil else {
            throw StrataError(.corruption, "\(path): block handle (offset \(handle.offset), size \(handle.size)) runs past the end of the table data at \(dataEnd)")
        }
        let size = Int(handle.size)
        let total = size + TableFormat.blockTrailerSize
        if let mapped = file.mappedBytes {
            // The data end lies inside the file, so this holds unless the
            // file shrank under its mapping.
            guard Int(handle.offset) + total <= mapped.count else {
                throw StrataError(.corruption, "\(path): short read of block at offset \(handle.offset): the file has \(mapped.count) bytes")
            }
            return try decode(mapped.baseAddress! + Int(handle.offset), size: size, adoptable: nil, path: path,
                              offset: handle.offset, verifyChecksum: verifyChecksum, hasEntries: hasEntries)
        }
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: total, alignment: 8)
        let n: Int
        do {
            n = try file.read(at: handle.offset, into: UnsafeMutableRawBufferPointer(start: buffer, count: total))
        } catch {
            buffer.deallocate()
            throw error
        }
        guard n == total else {
            buffer.deallocate()
            throw StrataError(.corruption, "\(path): short read of block at offset \(handle.offset): wanted \(total) bytes, got \(n)")
        }
        return try decode(buffer, size: size, adoptable: buffer, path: path,
                          offset: handle.offset, verifyChecksum: verifyChecksum, hasEntries: hasEntries)
    }

    /// Checks and decodes a block whose bytes and trailer are already in
    /// memory the caller keeps (a readahead buffer); `bytes.count` is the
    /// block's size plus the trailer.
    static func decode(_ bytes: UnsafeRawBufferPointer, path: String, offset: UInt64, verifyChecksum: Bool) throws -> Block {
        try decode(bytes.baseAddress!, size: bytes.count - TableFormat.blockTrailerSize, adoptable: nil, path: path,
                   offset: offset, verifyChecksum: verifyChecksum, hasEntries: true)
    }

    /// Checks and decodes the `size` block bytes at `bytes` (trailer after
    /// them). `adoptable` is `bytes` when it is a heap buffer this call now
    /// owns: an uncompressed block then keeps it, and any other outcome
    /// frees it; nil when `bytes` belongs to someone else (a mapping).
    private static func decode(_ bytes: UnsafeRawPointer, size: Int, adoptable: UnsafeMutableRawPointer?, path: String,
                               offset: UInt64, verifyChecksum: Bool, hasEntries: Bool) throws -> Block {
        var adopted = false
        defer { if !adopted { adoptable?.deallocate() } }
        let typeByte = bytes.load(fromByteOffset: size, as: UInt8.self)
        if verifyChecksum {
            let stored = CRC32C.unmask(loadFixed32(bytes + size + 1))
            let actual = CRC32C.checksum(UnsafeRawBufferPointer(start: bytes, count: size + 1))
            guard stored == actual else {
                throw StrataError(.corruption, "\(path): block checksum mismatch at offset \(offset)")
            }
        }
        let contents = UnsafeRawBufferPointer(start: bytes, count: size)
        switch BlockCompressionType(rawValue: typeByte) {
        case .uncompressed:
            guard let adoptable else { return try Block.copying(contents, path: path, offset: offset, hasEntries: hasEntries) }
            adopted = true
            return try Block.adopting(adoptable, count: size, path: path, offset: offset, hasEntries: hasEntries)
        case .lz4:
            let (out, length) = try LZ4Codec.decompress(contents, path: path, offset: offset)
            return try Block.adopting(out, count: length, path: path, offset: offset, hasEntries: hasEntries)
        case nil:
            throw StrataError(.corruption, "\(path): unknown compression type \(typeByte) of block at offset \(offset)")
        }
    }
}
