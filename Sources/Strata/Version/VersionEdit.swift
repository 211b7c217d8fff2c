/// A change to the set of files (and the counters) of the database, one
/// record of the MANIFEST.
///
/// Encoded as tagged fields (varint tag, then the field), followed by a
/// masked CRC32C of those bytes, so an edit checks itself even outside the
/// log's framing. The first field is always the manifest format version,
/// so a newer format is reported as such rather than as an unknown tag.
/// Tags are listed in `Tag` and Docs/format-manifest.md.
struct VersionEdit: Equatable {
    /// A file removed from a level.
    struct DeletedFile: Equatable {
        var level: Int
        var number: UInt64
    }

    /// A file added to a level.
    struct NewFile: Equatable {
        var level: Int
        var file: FileMetaData
    }

    var columnFamily: UInt32 = 0
    /// The name of `columnFamily`'s comparator: in the default family's
    /// snapshot edit and in every `addColumnFamily` edit (an add without it
    /// was written before comparators existed and means byte-wise).
    var comparatorName: String?
    /// Logs with a number below this hold nothing this family still needs.
    var logNumber: UInt64?
    var nextFileNumber: UInt64?
    var lastSequence: UInt64?
    /// Name of a family being created (its id is `columnFamily`).
    var addColumnFamily: String?
    /// Options of the family being created (only with `addColumnFamily`;
    /// absent for families created before options were recorded).
    var columnFamilyOptions: ColumnFamilyOptions?
    var dropColumnFamily: Bool = false
    var maxColumnFamily: UInt32?
    var deletedFiles: [DeletedFile] = []
    var newFiles: [NewFile] = []

    init() {}

    mutating func deleteFile(level: Int, number: UInt64) {
        deletedFiles.append(DeletedFile(level: level, number: number))
    }

    mutating func addFile(level: Int, _ file: FileMetaData) {
        newFiles.append(NewFile(level: level, file: file))
    }

    /// The newest manifest format this build reads. Edits are written as
    /// format 1 unless they carry a field format 1 lacks (column family
    /// options, format 2), so databases without such edits stay readable by
    /// older builds, and older builds report the others as newer.
    static let formatVersion: UInt32 = 2

    /// The format this edit is written in.
    var encodedFormatVersion: UInt32 { columnFamilyOptions != nil ? 2 : 1 }

    /// Field tags. Numbers are part of the on-disk format: never reuse one.
    enum Tag: UInt32 {
        case formatVersion = 1
        case comparatorName = 2
        case logNumber = 3
        case nextFileNumber = 4
        case lastSequence = 5
        case columnFamily = 6
        case addColumnFamily = 7
        case dropColumnFamily = 8
        case maxColumnFamily = 9
        case deletedFile = 10
        case newFile = 11
        case columnFamilyOptions = 12
    }

    func encode() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(64 + newFiles.reduce(0) { $0 + 24 + $1.file.smallest.count + $1.file.largest.count })
        out.appendVarint32(Tag.formatVersion.rawValue)
        out.appendVarint32(encodedFormatVersion)
        if columnFamily != 0 {
            out.appendVarint32(Tag.columnFamily.rawValue)
            out.appendVarint32(columnFamily)
        }
        if let comparatorName {
            out.appendVarint32(Tag.comparatorName.rawValue)
            out.appendLengthPrefixed(Array(comparatorName.utf8))
        }
        if let logNumber {
            out.appendVarint32(Tag.logNumber.rawValue)
            out.appendVarint64(logNumber)
        }
        if let nextFileNumber {
            out.appendVarint32(Tag.nextFileNumber.rawValue)
            out.appendVarint64(nextFileNumber)
        }
        if let lastSequence {
            out.appendVarint32(Tag.lastSequence.rawValue)
            out.appendVarint64(lastSequence)
        }
        if let addColumnFamily {
            out.appendVarint32(Tag.addColumnFamily.rawValue)
            out.appendLengthPrefixed(Array(addColumnFamily.utf8))
        }
        if let columnFamilyOptions {
            out.appendVarint32(Tag.columnFamilyOptions.rawValue)
            out.appendLengthPrefixed(columnFamilyOptions.encode())
        }
        if dropColumnFamily {
            out.appendVarint32(Tag.dropColumnFamily.rawValue)
        }
        if let maxColumnFamily {
            out.appendVarint32(Tag.maxColumnFamily.rawValue)
            out.appendVarint32(maxColumnFamily)
        }
        for d in deletedFiles {
            out.appendVarint32(Tag.deletedFile.rawValue)
            out.appendVarint32(UInt32(d.level))
            out.appendVarint64(d.number)
        }
        for n in newFiles {
            out.appendVarint32(Tag.newFile.rawValue)
            out.appendVarint32(UInt32(n.level))
            out.appendVarint64(n.file.number)
            out.appendVarint64(n.file.size)
            out.appendLengthPrefixed(n.file.smallest)
            out.appendLengthPrefixed(n.file.largest)
            out.appendVarint64(n.file.numEntries)
        }
        out.appendFixed32(CRC32C.mask(CRC32C.checksum(out)))
        return out
    }

    init(decoding bytes: [UInt8], path: String, offset: UInt64) throws {
        self = try bytes.withUnsafeBytes { try VersionEdit(decoding: $0, path: path, offset: offset) }
    }

    init(decoding bytes: UnsafeRawBufferPointer, path: String, offset: UInt64) throws {
        func corrupt(_ what: String) -> StrataError {
            StrataError(.corruption, "\(path): version edit at offset \(offset): \(what)")
        }
        // The version comes before the checksum check: a newer format may
        // frame its edits differently, and should be reported as newer.
        var head = ByteReader(bytes)
        if head.readVarint32() == Tag.formatVersion.rawValue, let v = head.readVarint32(), v > Self.formatVersion {
            throw StrataError(.invalidArgument, "\(path): written by a newer version of Strata (manifest format \(v); this build reads format \(Self.formatVersion) and older)")
        }
        guard bytes.count >= 4 else { throw corrupt("too short (\(bytes.count) bytes)") }
        let body = UnsafeRawBufferPointer(rebasing: bytes[0..<(bytes.count - 4)])
        let stored = loadFixed32(bytes.baseAddress! + body.count)
        guard CRC32C.unmask(stored) == CRC32C.checksum(body) else { throw corrupt("bad checksum") }

        var reader = ByteReader(body)
        var seen = Set<UInt32>()
        var first = true
        while !reader.isAtEnd {
            let fieldOffset = reader.offset
            guard let rawTag = reader.readVarint32() else { throw corrupt("truncated tag at byte \(fieldOffset)") }
            guard let tag = Tag(rawValue: rawTag) else { throw corrupt("unknown field tag \(rawTag) at byte \(fieldOffset)") }
            if first && tag != .formatVersion { throw corrupt("does not start with a format version") }
            first = false
            if tag != .deletedFile && tag != .newFile {
                guard seen.insert(rawTag).inserted else { throw corrupt("field tag \(rawTag) appears twice") }
            }
            func missing(_ what: String) -> StrataError { corrupt("truncated \(what) at byte \(fieldOffset)") }
            switch tag {
            case .formatVersion:
                guard let v = reader.readVarint32() else { throw missing("format version") }
                guard v >= 1 && v <= Self.formatVersion else { throw corrupt("bad format version \(v)") }
            case .comparatorName:
                guard let name = reader.readLengthPrefixed() else { throw missing("comparator name") }
                guard let s = String(validating: name, as: UTF8.self) else { throw corrupt("comparator name is not UTF-8") }
                comparatorName = s
            case .logNumber:
                guard let v = reader.readVarint64() else { throw missing("log number") }
                guard v <= DBPaths.maxFileNumber else { throw corrupt("log number \(v) out of range") }
                logNumber = v
            case .nextFileNumber:
                guard let v = reader.readVarint64() else { throw missing("next file number") }
                guard v <= DBPaths.maxFileNumber else { throw corrupt("next file number \(v) out of range") }
                nextFileNumber = v
            case .lastSequence:
                guard let v = reader.readVarint64() else { throw missing("last sequence") }
                guard v <= maxSequenceNumber else { throw corrupt("last sequence \(v) out of range") }
                lastSequence = v
            case .columnFamily:
                guard let v = reader.readVarint32() else { throw missing("column family") }
                columnFamily = v
            case .addColumnFamily:
                guard let name = reader.readLengthPrefixed() else { throw missing("column family name") }
                guard let s = String(validating: name, as: UTF8.self) else { throw corrupt("column family name is not UTF-8") }
                addColumnFamily = s
            case .columnFamilyOptions:
                guard let body = reader.readLengthPrefixed() else { throw missing("column family options") }
                columnFamilyOptions = try ColumnFamilyOptions(decoding: body) { corrupt("\($0) at byte \(fieldOffset)") }
            case .dropColumnFamily:
                dropColumnFamily = true
            case .maxColumnFamily:
                guard let v = reader.readVarint32() else { throw missing("max column family") }
                maxColumnFamily = v
            case .deletedFile:
                guard let level = reader.readVarint32(), let number = reader.readVarint64() else { throw missing("deleted file") }
                guard level < Version.numLevels else { throw corrupt("deleted file level \(level) out of range") }
                guard number <= DBPaths.maxFileNumber else { throw corrupt("deleted file number \(number) out of range") }
                deletedFiles.append(DeletedFile(level: Int(level), number: number))
            case .newFile:
                guard let level = reader.readVarint32(), let number = reader.readVarint64(),
                      let size = reader.readVarint64(), let smallest = reader.readLengthPrefixed(),
                      let largest = reader.readLengthPrefixed(), let entries = reader.readVarint64()
                else { throw missing("new file") }
                guard level < Version.numLevels else { throw corrupt("new file level \(level) out of range") }
                guard number <= DBPaths.maxFileNumber else { throw corrupt("new file number \(number) out of range") }
                guard smallest.count >= 8, largest.count >= 8 else { throw corrupt("file #\(number) has a key shorter than 8 bytes") }
                // smallest <= largest is checked by `VersionBuilder`, which
                // knows the family's comparator.
                let file = FileMetaData(number: number, size: size, smallest: [UInt8](smallest),
                                        largest: [UInt8](largest), numEntries: entries)
                newFiles.append(NewFile(level: Int(level), file: file))
            }
        }
        if first { throw corrupt("empty") }
        if columnFamilyOptions != nil && addColumnFamily == nil {
            throw corrupt("column family options without a family being added")
        }
    }
}
