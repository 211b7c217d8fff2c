import Foundation

/// One backup in a backup directory.
public struct BackupInfo: Sendable, Equatable, CustomStringConvertible {
    /// The backup's id (1, 2, ...; never reused in a directory).
    public let id: Int
    /// When the backup was taken.
    public let timestamp: Date
    /// Sequence number of the newest write the backup holds (as recorded in
    /// its MANIFEST; log records in it may go further).
    public let sequence: UInt64
    /// Bytes of all files the backup consists of (shared ones included).
    public let size: UInt64
    /// Number of files the backup consists of.
    public let fileCount: Int

    public var description: String {
        "backup \(id): \(fileCount) files, \(size) bytes, taken \(timestamp)"
    }
}

/// One file of a backup as recorded in its metadata.
struct BackupFile: Equatable {
    /// Where it is stored, relative to the backup directory.
    var stored: String
    /// Its name in a restored database.
    var name: String
    var size: UInt64
    var crc: UInt32
}

/// The metadata file of one backup, `meta/<id>`: a small text format,
/// written to a temp file, fsynced and renamed, so a backup is visible only
/// once complete:
/// ```
/// strata-backup 1
/// id <id>
/// timestamp <seconds since 1970, decimal>
/// sequence <n>
/// file <stored path> <restored name> <size> <crc32c as 8 hex digits>
/// ```
struct BackupMetadata: Equatable {
    var id: Int
    var timestamp: Double
    var sequence: UInt64
    var files: [BackupFile]

    func encode() -> [UInt8] {
        var s = "strata-backup 1\nid \(id)\ntimestamp \(timestamp)\nsequence \(sequence)\n"
        for f in files {
            s += "file \(f.stored) \(f.name) \(f.size) \(String(f.crc, radix: 16))\n"
        }
        return Array(s.utf8)
    }

    static func decode(_ bytes: [UInt8], path: String) throws -> BackupMetadata {
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw StrataError(.corruption, "\(path): backup metadata is not UTF-8")
        }
        var lines = text.split(separator: "\n", omittingEmptySubsequences: true).makeIterator()
        guard lines.next() == "strata-backup 1" else {
            throw StrataError(.corruption, "\(path): not Strata backup metadata (or a newer version)")
        }
        var meta = BackupMetadata(id: -1, timestamp: -1, sequence: 0, files: [])
        while let line = lines.next() {
            let parts = line.split(separator: " ")
            switch parts.first {
            case "id" where parts.count == 2: meta.id = Int(parts[1]) ?? -1
            case "timestamp" where parts.count == 2: meta.timestamp = Double(parts[1]) ?? -1
            case "sequence" where parts.count == 2: meta.sequence = UInt64(parts[1]) ?? 0
            case "file" where parts.count == 5:
                guard let size = UInt64(parts[3]), let crc = UInt32(parts[4], radix: 16),
                      !parts[1].contains(".."), !parts[2].contains("/") else {
                    throw StrataError(.corruption, "\(path): bad file line '\(line)'")
                }
                meta.files.append(BackupFile(stored: String(parts[1]), name: String(parts[2]), size: size, crc: crc))
            default:
                throw StrataError(.corruption, "\(path): unexpected line '\(line)'")
            }
        }
        if meta.id < 0 || meta.timestamp < 0 || meta.files.isEmpty {
            throw StrataError(.corruption, "\(path): incomplete backup metadata")
        }
        return meta
    }

    var info: BackupInfo {
        BackupInfo(id: id, timestamp: Date(timeIntervalSince1970: timestamp), sequence: sequence,
                   size: files.reduce(0) { $0 + $1.size }, fileCount: files.count)
    }
}
