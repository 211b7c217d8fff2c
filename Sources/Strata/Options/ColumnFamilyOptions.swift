/// Per-family settings, fixed when the family is created and recorded in
/// the MANIFEST, so a reopen restores them (Docs/format-manifest.md).
///
/// The comparator is recorded by name (the MANIFEST's comparator field of
/// the family's edit, not this options record); a custom one must be
/// supplied again at every open through `Options.columnFamilyComparators`.
public struct ColumnFamilyOptions: Sendable, Equatable {
    /// The family's key order (byte-wise by default). Fixed at creation.
    public var comparator: Comparator = .bytewise
    /// Compression of this family's table blocks.
    public var compression: Compression = .lz4
    /// Target uncompressed size of a data block.
    public var blockSize: Int = 4096
    /// Bloom filter bits per key; 0 disables filters.
    public var bloomBitsPerKey: Int = 10
    /// Bytes of memtable data before the memtables are switched and flushed.
    /// All families share one log, so when any family's memtable is full
    /// every non-empty family is flushed together.
    public var writeBufferSize: Int = 64 << 20

    /// Default family options.
    public init() {}

    /// Creates options with every field given.
    public init(compression: Compression = .lz4, blockSize: Int = 4096, bloomBitsPerKey: Int = 10,
                writeBufferSize: Int = 64 << 20, comparator: Comparator = .bytewise) {
        self.comparator = comparator
        self.compression = compression
        self.blockSize = blockSize
        self.bloomBitsPerKey = bloomBitsPerKey
        self.writeBufferSize = writeBufferSize
    }

    /// The default family's options: the database-wide settings of `options`.
    init(databaseOptions options: Options) {
        compression = options.compression
        blockSize = options.blockSize
        bloomBitsPerKey = options.bloomBitsPerKey
        writeBufferSize = options.writeBufferSize
        comparator = options.comparator
    }

    /// Throws `.invalidArgument` for values the engine cannot use.
    func validate() throws {
        try comparator.validate()
        guard blockSize >= 1 && blockSize <= 1 << 30 else {
            throw StrataError(.invalidArgument, "blockSize \(blockSize) is out of range (1 ... 2^30)")
        }
        guard bloomBitsPerKey >= 0 && bloomBitsPerKey <= 1000 else {
            throw StrataError(.invalidArgument, "bloomBitsPerKey \(bloomBitsPerKey) is out of range (0 ... 1000)")
        }
        guard writeBufferSize >= 1 else {
            throw StrataError(.invalidArgument, "writeBufferSize \(writeBufferSize) must be positive")
        }
    }

    // MARK: MANIFEST encoding

    /// Sub-field tags of the encoded options (part of the on-disk format).
    private enum Field: UInt32 {
        case compression = 1
        case blockSize = 2
        case bloomBitsPerKey = 3
        case writeBufferSize = 4
    }

    /// `(varint32 field, varint64 value)*`, every field present. The
    /// comparator is not among them (see the type's note).
    func encode() -> [UInt8] {
        var out: [UInt8] = []
        out.appendVarint32(Field.compression.rawValue)
        out.appendVarint64(UInt64(compression.rawValue))
        out.appendVarint32(Field.blockSize.rawValue)
        out.appendVarint64(UInt64(blockSize))
        out.appendVarint32(Field.bloomBitsPerKey.rawValue)
        out.appendVarint64(UInt64(bloomBitsPerKey))
        out.appendVarint32(Field.writeBufferSize.rawValue)
        out.appendVarint64(UInt64(writeBufferSize))
        return out
    }

    /// Decodes `encode()`'s output; `corrupt` builds the error naming the
    /// file and offset. Unknown or repeated fields, values out of range and
    /// truncation are corruption. The comparator is left byte-wise; the
    /// caller sets the one the MANIFEST names.
    init(decoding bytes: UnsafeRawBufferPointer, corrupt: (String) -> StrataError) throws {
        self.init()
        var reader = ByteReader(bytes)
        var seen = Set<UInt32>()
        while !reader.isAtEnd {
            guard let raw = reader.readVarint32(), let value = reader.readVarint64() else {
                throw corrupt("truncated column family options")
            }
            guard let field = Field(rawValue: raw) else { throw corrupt("unknown column family option \(raw)") }
            guard seen.insert(raw).inserted else { throw corrupt("column family option \(raw) appears twice") }
            guard value <= UInt64(Int32.max) else { throw corrupt("column family option \(raw) value \(value) out of range") }
            switch field {
            case .compression:
                guard let c = Compression(rawValue: UInt8(truncatingIfNeeded: value)), value <= 255 else {
                    throw corrupt("unknown compression \(value) in column family options")
                }
                compression = c
            case .blockSize: blockSize = Int(value)
            case .bloomBitsPerKey: bloomBitsPerKey = Int(value)
            case .writeBufferSize: writeBufferSize = Int(value)
            }
        }
        do { try validate() } catch let e as StrataError { throw corrupt("column family options: \(e.message)") }
    }
}
