import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Named snapshots of the JSON store: each is a `backup(to:)` copy of the
/// directory published by a rename in `<directory>.snapshots/` (layout and
/// crash rules: `DirectorySnapshots`); health and size.
extension JSONFileMessageStore {
    /// Snapshot directory (nil = `<directory>.snapshots`) and retention.
    public var snapshotOptions: SnapshotOptions {
        get { snapshotSettings.options }
        set { snapshotSettings.options = newValue }
    }

    @discardableResult
    public func createSnapshot(name: String) async throws -> SnapshotInfo {
        try await snapshotSettings.directorySnapshots.create(name: name, maxSnapshots: snapshotOptions.maxSnapshots,
                                                            hook: snapshotSettings.hook) { target in
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

    /// Disk space, whether the directory is still there and writable, and
    /// (with `verifyData`) every file's checksum, read on the save queue.
    public func health(thresholds: HealthThresholds) async throws -> StoreHealth {
        var reasons: [HealthReason] = []
        if state.withLock({ $0.closed }) { return StoreHealth(reasons: [HealthReason(.closed, .critical, "store at \(directory) is closed")]) }
        if let disk = thresholds.diskReason(at: directory) { reasons.append(disk) }
        let (broken, unsaved) = state.withLock { s in
            (s.broken, s.lastFailure.flatMap { f in s.dirtyQueues.isEmpty && !s.dirtyEntities && !s.dirtyState ? nil : f })
        }
        if let broken {
            reasons.append(HealthReason(.readOnly, .critical, "store at \(directory) stopped writing after a failed save (\(broken.message)): reopen it"))
        } else if let unsaved {
            reasons.append(HealthReason(unsaved.kind == .storageFull ? .lowDiskSpace : .ioError, .critical,
                                        "store at \(directory) holds unsaved changes; the last save failed (\(unsaved.message)), retrying"))
        }
        if !FileManager.default.fileExists(atPath: directory) {
            reasons.append(HealthReason(.ioError, .critical, "directory \(directory) is gone"))
        } else if access(directory, W_OK) != 0 {
            reasons.append(HealthReason(.readOnly, .critical, "directory \(directory) is not writable"))
        }
        if thresholds.verifyData {
            let dir = directory
            let found = StoreLock<[String]>([])
            try await onSaveQueue { files in
                let all = ["entities/queues.json", "entities/topics.json", "entities/subscriptions.json", "state.json"] + (try files.messageFiles())
                for rel in all {
                    guard let data = FileManager.default.contents(atPath: dir + "/" + rel) else { continue }
                    if JSONFileSet.content(of: Array(data)) == nil { found.withLock { $0.append(rel) } }
                }
            }.wait()
            let bad = found.withLock { $0 }
            if !bad.isEmpty {
                reasons.append(HealthReason(.corruption, .warning,
                                            "\(directory): \(bad.joined(separator: ", ")) fail their checksum (open reads their newest good rotation)"))
            }
        }
        return StoreHealth(reasons: reasons)
    }

    /// Bytes of every file in the directory (rotations included).
    public func storageBytes() async throws -> Int64 {
        DiskSpace.size(of: directory)
    }
}
