/// What a table holds, recorded in its properties block and returned by
/// `TableBuilder.finish()`.
struct TableProperties: Sendable, Equatable {
    var numEntries: UInt64 = 0
    /// Entries of kind `.deletion` (point tombstones).
    var numDeletions: UInt64 = 0
    /// Sum of internal key lengths (user key + 8).
    var rawKeySize: UInt64 = 0
    var rawValueSize: UInt64 = 0
    var dataBlocks: UInt64 = 0
    /// Range tombstones in the range-deletion block.
    var numRangeDeletions: UInt64 = 0
    /// The largest sequence number of any point entry (0 when there are
    /// none). A table written before this property existed reads as
    /// `maxSequenceNumber`: unknown, so no reader assumes its entries old.
    var maxPointSequence: SequenceNumber = 0
    /// Smallest and largest internal keys, covering point entries and range
    /// tombstones (Docs/format-table.md); empty for a table with neither.
    var smallest: [UInt8] = []
    var largest: [UInt8] = []
    /// Name of the comparator the keys are ordered by; nil in tables
    /// written before comparators existed, which are byte-wise.
    var comparatorName: String?
    /// Size of the whole file (taken from the file, not stored).
    var fileSize: UInt64 = 0

    /// Property names as stored, in the bytewise order the block needs.
    enum Name {
        static let comparator = "strata.comparator"
        static let dataBlocks = "strata.data.blocks"
        static let formatVersion = "strata.format.version"
        static let largest = "strata.largest.key"
        static let maxPointSequence = "strata.max.point.sequence"
        static let numDeletions = "strata.num.deletions"
        static let numEntries = "strata.num.entries"
        static let numRangeDeletions = "strata.num.range.deletions"
        static let rawKeySize = "strata.raw.key.size"
        static let rawValueSize = "strata.raw.value.size"
        static let smallest = "strata.smallest.key"
    }

    /// The properties block: numbers as varint64 values, keys as raw bytes.
    func encodeBlock() -> [UInt8] {
        func number(_ v: UInt64) -> [UInt8] {
            var out = [UInt8]()
            out.appendVarint64(v)
            return out
        }
        var entries: [(String, [UInt8])] = [
            (Name.dataBlocks, number(dataBlocks)),
            (Name.formatVersion, number(UInt64(TableFormat.version))),
            (Name.largest, largest),
            (Name.maxPointSequence, number(maxPointSequence)),
            (Name.numDeletions, number(numDeletions)),
            (Name.numEntries, number(numEntries)),
            (Name.numRangeDeletions, number(numRangeDeletions)),
            (Name.rawKeySize, number(rawKeySize)),
            (Name.rawValueSize, number(rawValueSize)),
            (Name.smallest, smallest),
        ]
        if let comparatorName { entries.append((Name.comparator, Array(comparatorName.utf8))) }
        var builder = BlockBuilder(restartInterval: 1)
        for (name, value) in entries.sorted(by: { $0.0.utf8.lexicographicallyPrecedes($1.0.utf8) }) {
            let key = Array(name.utf8)
            key.withUnsafeBytes { k in value.withUnsafeBytes { v in builder.add(k, v) } }
        }
        builder.finish()
        return builder.buffer
    }

    /// Decodes a properties block. Unknown names are skipped (a newer
    /// writer may add some); the counts tables need are required.
    static func decode(_ block: Block, fileSize: UInt64) throws -> TableProperties {
        func bad(_ what: String) -> StrataError {
            StrataError(.corruption, "\(block.path): bad properties block at offset \(block.fileOffset): \(what)")
        }
        var props = TableProperties(maxPointSequence: maxSequenceNumber, fileSize: fileSize)
        var seen = Set<String>()
        var cursor = BlockCursor(order: .bytewise)
        cursor.reset(block)
        cursor.seekToFirst()
        while cursor.isValid {
            let name = String(decoding: cursor.key, as: UTF8.self)
            let value = cursor.value
            func number() throws -> UInt64 {
                var r = ByteReader(value)
                guard let v = r.readVarint64(), r.isAtEnd else { throw bad("value of \(name) is not a varint") }
                return v
            }
            switch name {
            case Name.dataBlocks: props.dataBlocks = try number()
            case Name.formatVersion: _ = try number()
            case Name.largest: props.largest = value.array
            case Name.numDeletions: props.numDeletions = try number()
            case Name.numEntries: props.numEntries = try number()
            case Name.numRangeDeletions: props.numRangeDeletions = try number()
            case Name.maxPointSequence: props.maxPointSequence = try number()
            case Name.rawKeySize: props.rawKeySize = try number()
            case Name.rawValueSize: props.rawValueSize = try number()
            case Name.smallest: props.smallest = value.array
            case Name.comparator:
                guard let name = String(validating: value, as: UTF8.self) else { throw bad("comparator name is not UTF-8") }
                props.comparatorName = name
            default: break
            }
            seen.insert(name)
            cursor.next()
        }
        if let e = cursor.error { throw e }
        for required in [Name.numEntries, Name.dataBlocks, Name.smallest, Name.largest] where !seen.contains(required) {
            throw bad("missing \(required)")
        }
        return props
    }
}
