/// Reads one block and its trailer from a table file, checks the CRC and
/// decompresses it, copying the bytes at most once: an uncompressed block
/// adopts the read buffer; an LZ4 block is decompressed into its own.
enum BlockReader {
    /// `dataEnd` is where the footer starts; a handle reaching past it is damage.
    /// `hasEntries` is false for opaque blocks (the filter).
    static func read(_ file: any ReadableFile, path: String, handle: BlockHandle, dataEnd: UInt64,
                     verifyChecksum: Bool, hasEntries: Bool = true) throws -> Block {
        let trailer = UInt64(TableFormat.blockTrailerSize)
        guard handle.offset <= dataEnd, handle.size <= dataEnd - handle.offset,
              trailer <= dataEnd - handle.offset - handle.size else {
            throw StrataError(.corruption, "\(path): block handle (offset \(handle.offset), size \(handle.size)) runs past the end of the table data at \(dataEnd)")
        }
        let size = Int(handle.size)
        let total = size + TableFormat.blockTrailerSize
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: total, alignment: 8)
        var adopted = false
        defer { if !adopted { buffer.deallocate() } }

        let n = try file.read(at: handle.offset, into: UnsafeMutableRawBufferPointer(start: buffer, count: total))
        guard n == total else {
            throw StrataError(.corruption, "\(path): short read of block at offset \(handle.offset): wanted \(total) bytes, got \(n)")
        }
        let typeByte = buffer.load(fromByteOffset: size, as: UInt8.self)
        if verifyChecksum {
            let stored = CRC32C.unmask(loadFixed32(buffer + size + 1))
            let actual = CRC32C.checksum(UnsafeRawBufferPointer(start: buffer, count: size + 1))
            guard stored == actual else {
                throw StrataError(.corruption, "\(path): block checksum mismatch at offset \(handle.offset)")
            }
        }
        switch BlockCompressionType(rawValue: typeByte) {
        case .uncompressed:
            adopted = true
            return try Block.adopting(buffer, count: size, path: path, offset: handle.offset, hasEntries: hasEntries)
        case .lz4:
            let (out, length) = try LZ4Codec.decompress(UnsafeRawBufferPointer(start: buffer, count: size), path: path, offset: handle.offset)
            return try Block.adopting(out, count: length, path: path, offset: handle.offset, hasEntries: hasEntries)
        case nil:
            throw StrataError(.corruption, "\(path): unknown compression type \(typeByte) of block at offset \(handle.offset)")
        }
    }
}
