/// A group of updates applied atomically: after a crash, either all of a
/// committed batch is recovered or none of it.
///
/// Encoding (also the write-ahead log record payload; Docs/format.md):
/// ```
/// fixed64 sequence     first sequence number of the batch (set at commit)
/// fixed32 count        number of records
/// record*              tag(1) cf-id(varint32) key(varint32 len + bytes) [second]
///   tag 0 = delete     no second field
///   tag 1 = put        second = value (varint32 len + bytes)
///   tag 2 = deleteRange second = exclusive end key (varint32 len + bytes)
/// ```
/// Record i gets sequence number `sequence + i`.
public struct WriteBatch: Sendable {
    static let headerSize = 12

    @usableFromInline var rep: [UInt8]
    @usableFromInline var recordCount: UInt32 = 0
    /// The non-default family handles named by the records (each at least
    /// once; consecutive repeats are not added), so the database can refuse
    /// a dropped family or one of another database before logging anything.
    @usableFromInline var families: [ColumnFamily] = []

    /// An empty batch.
    public init() {
        rep = [UInt8](repeating: 0, count: WriteBatch.headerSize)
    }

    /// An empty batch with room reserved for `bytes` of records.
    public init(reservingCapacity bytes: Int) {
        rep = [UInt8]()
        rep.reserveCapacity(WriteBatch.headerSize + bytes)
        rep.append(contentsOf: repeatElement(0, count: WriteBatch.headerSize))
    }

    /// Decodes a batch from its encoding, checking every length.
    init(decoding bytes: [UInt8]) throws {
        guard bytes.count >= WriteBatch.headerSize else {
            throw StrataError(.corruption, "write batch shorter than its \(WriteBatch.headerSize)-byte header")
        }
        rep = bytes
        recordCount = bytes.withUnsafeBytes { loadFixed32($0.baseAddress! + 8) }
        let seen = try bytes.withUnsafeBytes { (p) throws -> UInt32 in
            var reader = WriteBatchReader(bytes: p)
            var n: UInt32 = 0
            while try reader.next() != nil { n += 1 }
            return n
        }
        if seen != recordCount {
            throw StrataError(.corruption, "write batch header says \(recordCount) records, found \(seen)")
        }
        // Record i gets sequence + i, which must fit an internal key's
        // 56-bit sequence (the memtable traps on anything larger).
        let first = sequence
        if first > maxSequenceNumber || (recordCount > 0 && UInt64(recordCount - 1) > maxSequenceNumber - first) {
            throw StrataError(.corruption, "write batch sequence \(first) + \(recordCount) records exceeds the largest sequence number")
        }
    }

    /// Number of updates in the batch.
    public var count: Int { Int(recordCount) }
    /// Whether the batch holds no updates.
    public var isEmpty: Bool { recordCount == 0 }
    /// Size of the encoded batch in bytes.
    public var byteSize: Int { rep.count }

    /// Removes every update.
    public mutating func clear() {
        rep.removeAll(keepingCapacity: true)
        rep.append(contentsOf: repeatElement(0, count: WriteBatch.headerSize))
        recordCount = 0
        families.removeAll(keepingCapacity: true)
    }

    /// Sets `key` to `value` in `family` (nil = default family).
    @inlinable
    public mutating func put(_ key: [UInt8], _ value: [UInt8], in family: ColumnFamily? = nil) {
        note(family)
        appendRecord(tag: 1, cf: family?.id ?? 0, key, value)
    }

    /// Removes `key` from `family`.
    @inlinable
    public mutating func delete(_ key: [UInt8], in family: ColumnFamily? = nil) {
        note(family)
        rep.append(0)
        rep.appendVarint32(family?.id ?? 0)
        rep.appendLengthPrefixed(key)
        recordCount += 1
    }

    /// Removes every key in `[from, to)` from `family`. An empty range
    /// (`from >= to`) is recorded but deletes nothing.
    @inlinable
    public mutating func deleteRange(from begin: [UInt8], to end: [UInt8], in family: ColumnFamily? = nil) {
        note(family)
        appendRecord(tag: 2, cf: family?.id ?? 0, begin, end)
    }

    /// Appends `other`'s records only (group commit: the handles were
    /// checked already and the combined batch is never validated).
    mutating func appendRecords(of other: WriteBatch) {
        rep.append(contentsOf: other.rep[WriteBatch.headerSize...])
        recordCount += other.recordCount
    }

    @inlinable
    mutating func note(_ family: ColumnFamily?) {
        guard let family, families.last !== family else { return }
        families.append(family)
    }

    /// Appends the updates of `other` after those of this batch.
    public mutating func append(_ other: WriteBatch) {
        rep.append(contentsOf: other.rep[WriteBatch.headerSize...])
        recordCount += other.recordCount
        for f in other.families { note(f) }
    }

    @inlinable
    mutating func appendRecord(tag: UInt8, cf: UInt32, _ a: [UInt8], _ b: [UInt8]) {
        rep.reserveCapacity(rep.count + a.count + b.count + 12)
        rep.append(tag)
        rep.appendVarint32(cf)
        rep.appendLengthPrefixed(a)
        rep.appendLengthPrefixed(b)
        recordCount += 1
    }

    /// The encoding with `sequence` and the count stamped into the header.
    func encoded(sequence: SequenceNumber) -> [UInt8] {
        var out = rep
        out.withUnsafeMutableBytes { p in
            storeFixed64(p.baseAddress!, sequence)
            storeFixed32(p.baseAddress! + 8, recordCount)
        }
        return out
    }

    /// Stamps sequence and count into this batch's own header.
    mutating func stamp(sequence: SequenceNumber) {
        let n = recordCount
        rep.withUnsafeMutableBytes { p in
            storeFixed64(p.baseAddress!, sequence)
            storeFixed32(p.baseAddress! + 8, n)
        }
    }

    /// The sequence number stamped in the header.
    var sequence: SequenceNumber { rep.withUnsafeBytes { loadFixed64($0.baseAddress!) } }
}

/// One decoded update; the buffers point into the batch's bytes.
struct BatchRecord {
    var kind: ValueKind
    var columnFamily: UInt32
    var key: UnsafeRawBufferPointer
    /// Value for puts, end key for range deletes, empty for deletes.
    var value: UnsafeRawBufferPointer
}

/// Walks the records of an encoded batch, inside the caller's
/// `withUnsafeBytes` over the encoding; returned buffers point into it.
struct WriteBatchReader {
    private var reader: ByteReader

    init(bytes: UnsafeRawBufferPointer) {
        reader = ByteReader(bytes, offset: WriteBatch.headerSize)
    }

    mutating func next() throws -> BatchRecord? {
        if reader.isAtEnd { return nil }
        let at = reader.offset
        guard let tag = reader.readByte(), let cf = reader.readVarint32(), let key = reader.readLengthPrefixed() else {
            throw StrataError(.corruption, "write batch record at offset \(at) is truncated")
        }
        switch tag {
        case 0:
            return BatchRecord(kind: .deletion, columnFamily: cf, key: key, value: UnsafeRawBufferPointer(start: nil, count: 0))
        case 1, 2:
            guard let second = reader.readLengthPrefixed() else {
                throw StrataError(.corruption, "write batch record at offset \(at) is truncated")
            }
            return BatchRecord(kind: tag == 1 ? .value : .rangeDeletion, columnFamily: cf, key: key, value: second)
        default:
            throw StrataError(.corruption, "write batch record at offset \(at) has unknown tag \(tag)")
        }
    }
}
