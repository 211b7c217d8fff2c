/// Where a block lives in a table file: its offset and its stored size
/// (excluding the 5-byte trailer). Encoded as two varint64s.
struct BlockHandle: Equatable, Sendable {
    var offset: UInt64
    var size: UInt64

    /// Longest possible encoding: two 10-byte varints.
    static let maxEncodedLength = 20

    func encode(into out: inout [UInt8]) {
        out.appendVarint64(offset)
        out.appendVarint64(size)
    }

    /// Where the block's trailer ends, when the block and its trailer lie
    /// wholly before `dataEnd`; nil for a handle reaching past it (damage:
    /// the sum is never formed unchecked, so no handle can overflow it).
    func trailerEnd(within dataEnd: UInt64) -> UInt64? {
        let trailer = UInt64(TableFormat.blockTrailerSize)
        guard offset <= dataEnd, size <= dataEnd - offset, trailer <= dataEnd - offset - size else { return nil }
        return offset + size + trailer
    }

    /// Decodes a handle from the front of `reader`; nil when truncated.
    static func decode(_ reader: inout ByteReader) -> BlockHandle? {
        guard let offset = reader.readVarint64(), let size = reader.readVarint64() else { return nil }
        return BlockHandle(offset: offset, size: size)
    }

    /// Decodes a handle that must fill `bytes` exactly (an index or meta-index value).
    static func decodeExactly(_ bytes: UnsafeRawBufferPointer) -> BlockHandle? {
        var r = ByteReader(bytes)
        guard let h = decode(&r), r.isAtEnd else { return nil }
        return h
    }
}
