import CLZ4

/// LZ4 block compression as stored in tables: `varint32 uncompressedLength`
/// followed by one LZ4 block (liblz4's default compressor).
enum LZ4Codec {
    /// Largest input liblz4 accepts.
    static let maxInputSize = Int(LZ4_MAX_INPUT_SIZE)

    /// Scratch bytes `compress` may need for `count` input bytes.
    static func maxStoredSize(_ count: Int) -> Int {
        5 + Int(LZ4_compressBound(Int32(clamping: count)))
    }

    /// Compresses `src` into `dst` (at least `maxStoredSize(src.count)` bytes).
    /// Returns the stored length, or nil when compression saves less than
    /// an eighth of the input (the block is then better stored raw).
    static func compress(_ src: UnsafeRawBufferPointer, into dst: UnsafeMutableRawPointer, capacity: Int) -> Int? {
        guard src.count > 0, src.count <= maxInputSize else { return nil }
        var header = 0
        var v = UInt32(src.count)
        while v >= 0x80 {
            dst.storeBytes(of: UInt8(truncatingIfNeeded: v) | 0x80, toByteOffset: header, as: UInt8.self)
            v >>= 7
            header += 1
        }
        dst.storeBytes(of: UInt8(v), toByteOffset: header, as: UInt8.self)
        header += 1
        let n = LZ4_compress_default(
            src.baseAddress!.assumingMemoryBound(to: CChar.self),
            (dst + header).assumingMemoryBound(to: CChar.self),
            Int32(src.count), Int32(clamping: capacity - header))
        guard n > 0 else { return nil }
        let stored = header + Int(n)
        guard stored <= src.count - src.count / 8 else { return nil }
        return stored
    }

    /// Decompresses a stored LZ4 block into a new allocation of exactly the
    /// recorded length; throws `.corruption` when the stored bytes disagree.
    static func decompress(_ stored: UnsafeRawBufferPointer, path: String, offset: UInt64) throws -> (UnsafeMutableRawPointer, Int) {
        func bad(_ what: String) -> StrataError {
            StrataError(.corruption, "\(path): bad LZ4 block at offset \(offset): \(what)")
        }
        var r = ByteReader(stored)
        guard let length32 = r.readVarint32() else { throw bad("truncated length") }
        let length = Int(length32)
        let payload = r.remaining
        // LZ4 cannot expand more than ~255x; a larger claim is damage, and
        // must not turn into a huge allocation.
        guard length <= maxInputSize, length <= payload * 255 + 16 else {
            throw bad("implausible uncompressed length \(length)")
        }
        let out = UnsafeMutableRawPointer.allocate(byteCount: max(length, 1), alignment: 8)
        let n = LZ4_decompress_safe(
            (stored.baseAddress! + r.offset).assumingMemoryBound(to: CChar.self),
            out.assumingMemoryBound(to: CChar.self),
            Int32(payload), Int32(length))
        guard n == Int32(length) else {
            out.deallocate()
            throw bad("payload does not decompress to \(length) bytes")
        }
        return (out, length)
    }
}
