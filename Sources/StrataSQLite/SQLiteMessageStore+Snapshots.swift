import Foundation
#if canImport(Glibc)
import Glibc
#endif
import StrataMessageCore

/// Named snapshots of the SQLite store: each is a `VACUUM INTO` copy (one
/// read transaction, so consistent) published by a directory rename in
/// `<path>.snapshots/` (layout and crash rules: `DirectorySnapshots`).
extension SQLiteMessageStore {
    /// Snapshot directory (nil = `<path>.snapshots`) and retention.
    public var snapshotOptions: SnapshotOptions {
        get { snapshotSettings.options }
        set { snapshotSettings.options = newValue }
    }

    /// Runs between the steps of `createSnapshot` — for crash tests only.
    package var snapshotHook: SnapshotHook? {
        get { snapshotSettings.hook }
        set { snapshotSettings.hook = newValue }
    }

    @discardableResult
    public func createSnapshot(name: String) async throws -> SnapshotInfo {
        try await snapshotSettings.directorySnapshots.create(name: name, maxSnapshots: snapshotOptions.maxSnapshots,
                                                            hook: snapshotHook) { target in
            try await backup(to: target)
        }
    }

    public func snapshots() async throws -> [SnapshotInfo] {
        try snapshotSettings.directorySnapshots.list()
    }

    public func restoreSnapshot(name: String) async throws {
        try await snapshotSettings.directorySnapshots.restore(name: name) { copy in try await restore(from: copy) }
    }

    public func deleteSnapshot(name: String) async throws {
        try await snapshotSettings.directorySnapshots.delete(name: name)
    }

    /// Disk space, whether the database file is still there and writable,
    /// whether the connection answers, and (with `verifyData`) `PRAGMA quick_check`.
    public func health(thresholds: HealthThresholds) async throws -> StoreHealth {
        var reasons: [HealthReason] = []
        if let disk = thresholds.diskReason(at: path) { reasons.append(disk) }
        if !FileManager.default.fileExists(atPath: path) {
            reasons.append(HealthReason(.connectionLost, .critical, "database file \(path) is gone"))
        } else if access(path, W_OK) != 0 {
            reasons.append(HealthReason(.readOnly, .critical, "database file \(path) is not writable"))
        }
        do {
            let verify = thresholds.verifyData, path = path
            let problems: [String] = try await locked { c in
                try c.query("SELECT count(*) FROM catalog")
                guard verify else { return [] }
                var problems: [String] = []
                try c.query("PRAGMA quick_check") { row in
                    let line = row.text(0)
                    if line != "ok" { problems.append(line) }
                    return problems.count < 5
                }
                return problems
            }
            if !problems.isEmpty {
                reasons.append(HealthReason(.corruption, .critical, "\(path): quick_check: " + problems.joined(separator: "; ")))
            }
        } catch {
            reasons.append(HealthReason.from(error))
        }
        return StoreHealth(reasons: reasons)
    }

    /// The database file with its WAL and shared-memory files.
    public func storageBytes() async throws -> Int64 {
        ["", "-wal", "-shm"].reduce(Int64(0)) { $0 + DiskSpace.size(of: path + $1) }
    }
}
