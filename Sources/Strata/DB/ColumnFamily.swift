/// A named keyspace with its own memtable, levels and options. Every
/// database has the family "default" (id 0).
public final class ColumnFamily: Sendable, Hashable, CustomStringConvertible {
    /// The family's name.
    public let name: String
    /// The family's id, stable for the life of the database; records in the
    /// log and the MANIFEST refer to families by id.
    public let id: UInt32

    init(name: String, id: UInt32) {
        self.name = name
        self.id = id
    }

    public static func == (a: ColumnFamily, b: ColumnFamily) -> Bool { a === b }
    public func hash(into h: inout Hasher) { h.combine(ObjectIdentifier(self)) }
    public var description: String { "ColumnFamily(\(name), id: \(id))" }
}

/// Per-family settings.
public struct ColumnFamilyOptions: Sendable {
    /// Compression of this family's table blocks.
    public var compression: Compression = .lz4
    /// Target uncompressed size of a data block.
    public var blockSize: Int = 4096
    /// Bloom filter bits per key; 0 disables filters.
    public var bloomBitsPerKey: Int = 10
    /// Bytes of memtable data before it is flushed.
    public var writeBufferSize: Int = 64 << 20

    /// Default family options.
    public init() {}
}
