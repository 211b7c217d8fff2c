/// The fixed-size end of a table file: where the meta-index and index
/// blocks are, the format version, a checksum and the magic number.
///
/// ```
/// metaindex handle | index handle | zero padding      40 bytes
/// fixed32 format version
/// fixed32 masked CRC32C of the 44 bytes above
/// fixed64 magic
/// ```
struct TableFooter: Equatable {
    var metaIndex: BlockHandle
    var index: BlockHandle
    var version: UInt32 = TableFormat.version

    func encode() -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(TableFormat.footerSize)
        metaIndex.encode(into: &out)
        index.encode(into: &out)
        out.append(contentsOf: repeatElement(0, count: TableFormat.footerHandlesSize - out.count))
        out.appendFixed32(version)
        out.appendFixed32(CRC32C.mask(CRC32C.checksum(out)))
        out.appendFixed64(TableFormat.magic)
        return out
    }

    /// Decodes the last `footerSize` bytes of a file. Order matters: the
    /// magic says whether this is a table at all, the CRC whether the footer
    /// is intact, and only then is the version trusted (a future version
    /// keeps this footer layout so old builds can name it).
    static func decode(_ bytes: UnsafeRawBufferPointer, path: String, offset: UInt64) throws -> TableFooter {
        precondition(bytes.count == TableFormat.footerSize)
        let p = bytes.baseAddress!
        guard loadFixed64(p + TableFormat.footerSize - 8) == TableFormat.magic else {
            throw StrataError(.corruption, "\(path): not a Strata table (bad magic number at offset \(offset + UInt64(TableFormat.footerSize - 8)))")
        }
        let stored = CRC32C.unmask(loadFixed32(p + TableFormat.footerHandlesSize + 4))
        let actual = CRC32C.checksum(UnsafeRawBufferPointer(start: p, count: TableFormat.footerHandlesSize + 4))
        guard stored == actual else {
            throw StrataError(.corruption, "\(path): footer checksum mismatch at offset \(offset)")
        }
        let version = loadFixed32(p + TableFormat.footerHandlesSize)
        if version > TableFormat.version {
            throw StrataError(.invalidArgument, "\(path): table format version \(version) is newer than this build supports")
        }
        guard version >= 1 else {
            throw StrataError(.corruption, "\(path): unknown table format version \(version) at offset \(offset)")
        }
        var r = ByteReader(UnsafeRawBufferPointer(start: p, count: TableFormat.footerHandlesSize))
        guard let meta = BlockHandle.decode(&r), let index = BlockHandle.decode(&r) else {
            throw StrataError(.corruption, "\(path): bad block handles in footer at offset \(offset)")
        }
        return TableFooter(metaIndex: meta, index: index, version: version)
    }
}
