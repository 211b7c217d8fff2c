import Foundation

/// One named snapshot of a message store (`MessageStore.createSnapshot(name:)`).
public struct SnapshotInfo: Sendable, Equatable, Codable, CustomStringConvertible {
    /// The name it was created under (unique per store).
    public var name: String
    /// When it was taken.
    public var date: Date
    /// Bytes it occupies (on the LSM store: the bytes of its files, shared
    /// table files counted in every snapshot that holds them).
    public var bytes: Int64

    /// A snapshot description.
    public init(name: String, date: Date, bytes: Int64) {
        self.name = name
        self.date = date
        self.bytes = bytes
    }

    public var description: String { "\(name) \(ISO8601DateFormatter().string(from: date)) \(bytes) bytes" }

    /// Checks a snapshot name: 1 to 128 characters out of letters, digits,
    /// `-`, `_` and `.`, not starting with `.` — it becomes a file or table
    /// entry, so nothing that could climb out of the snapshot directory.
    public static func validate(name: String) throws {
        let ok = !name.isEmpty && name.utf8.count <= 128 && !name.hasPrefix(".")
            && name.unicodeScalars.allSatisfy { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "-_.".unicodeScalars.contains($0)) }
        if !ok {
            throw MessageStoreError(.invalidArgument, "snapshot name \"\(name)\" must be 1-128 of letters, digits, '-', '_', '.', not starting with '.'")
        }
    }
}

/// Where a store keeps its named snapshots and how many it keeps.
public struct SnapshotOptions: Sendable, Equatable {
    /// The snapshot directory; nil = beside the store (`<path>.snapshots`).
    /// Unused by the in-memory store (snapshots in memory) and PostgreSQL
    /// (snapshot tables in the same database).
    public var directory: String?
    /// Retention: after a snapshot is created, the oldest ones beyond this
    /// many are deleted. 0 = keep every snapshot.
    public var maxSnapshots: Int

    /// Snapshots beside the store, all kept unless `maxSnapshots` > 0.
    public init(directory: String? = nil, maxSnapshots: Int = 0) {
        self.directory = directory
        self.maxSnapshots = maxSnapshots
    }
}

/// The steps of creating a snapshot, for tests that kill the process
/// between them (`SnapshotTestHooks`).
public enum SnapshotStep: String, Sendable, CaseIterable {
    /// The staging area exists, nothing copied yet.
    case staged
    /// The copy is complete in the staging area, not yet published.
    case copied
    /// Published (visible), retention not yet applied.
    case published
}
