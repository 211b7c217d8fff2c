/// Constants of the table file format (Docs/format-table.md).
enum TableFormat {
    /// The format version this build writes and the newest it reads.
    static let version: UInt32 = 1
    /// Identifies a Strata table; the last 8 bytes of every table file
    /// ("StrataT1" when read as little-endian ASCII).
    static let magic: UInt64 = 0x3154_6174_6172_7453
    /// Bytes after every block on disk: compression type + masked CRC32C.
    static let blockTrailerSize = 5
    /// Bytes reserved for the two varint block handles at the start of the footer.
    static let footerHandlesSize = 40
    /// Total footer size: handles, version, CRC, magic.
    static let footerSize = footerHandlesSize + 4 + 4 + 8
    /// Meta-index name of the full-table bloom filter block.
    static let filterBlockName = "strata.filter.bloom"
    /// Meta-index name of the properties block.
    static let propertiesBlockName = "strata.properties"
    /// Meta-index name of the range-deletion block (absent when the table
    /// has no range tombstones).
    static let rangeDeletionBlockName = "strata.range_del"
}

/// Compression type byte stored in each block trailer.
enum BlockCompressionType: UInt8 {
    case uncompressed = 0
    case lz4 = 1
}
