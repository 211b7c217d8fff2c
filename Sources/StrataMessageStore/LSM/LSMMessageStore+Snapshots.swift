import Foundation
import Strata

/// Named snapshots of the LSM store: backups of the incremental
/// `BackupEngine` (table files shared between snapshots), named by a small
/// file per snapshot.
///
/// Layout of the snapshot directory (`<path>.snapshots` by default), every
/// file written through the engine's `FileSystem`:
/// - `backups/`: the `BackupEngine` directory (`shared/`, `private/`, `meta/`);
/// - `names/<name>`: `{"backup": <id>}`, written to `names/.<name>.strata-tmp`,
///   fsynced, renamed, directory fsynced — the step that publishes it.
///
/// A crash before the rename leaves at most a complete or partial backup
/// that no name refers to: `snapshots()` lists names only, and the next
/// `createSnapshot` deletes unnamed backups. Restores verify every file's
/// checksum (the engine's `restore` checks while copying) before anything
/// of the live store is touched.
extension LSMMessageStore {
    private struct NameRecord: Codable { var backup: Int }

    /// Snapshot directory and retention (starts as `MessageStoreOptions.snapshots`).
    public var snapshotOptions: SnapshotOptions {
        get { snapshotSettings.options }
        set { snapshotSettings.options = newValue }
    }

    /// Runs between the steps of `createSnapshot` — for crash tests only.
    package var snapshotHook: SnapshotHook? {
        get { snapshotSettings.hook }
        set { snapshotSettings.hook = newValue }
    }

    private var fileSystem: any FileSystem { options.engine.fileSystem }
    private var namesDirectory: String { snapshotSettings.directory + "/names" }

    private func backupEngine() throws -> BackupEngine {
        let fs = fileSystem
        try fs.createDirectory(at: snapshotSettings.directory)
        try fs.createDirectory(at: namesDirectory)
        return try BackupEngine(directory: snapshotSettings.directory + "/backups", fileSystem: fs)
    }

    /// Name → backup id of every published snapshot.
    private func names() throws -> [String: Int] {
        let fs = fileSystem
        guard fs.fileExists(at: namesDirectory) else { return [:] }
        var out: [String: Int] = [:]
        for name in try fs.listDirectory(at: namesDirectory) where !name.hasPrefix(".") {
            let path = namesDirectory + "/" + name
            let file = try fs.openForReading(at: path)
            defer { file.close() }
            var bytes = [UInt8](repeating: 0, count: Int(file.size))
            let n = try bytes.withUnsafeMutableBytes { try file.read(at: 0, into: $0) }
            guard n == bytes.count, let record = try? JSONDecoder().decode(NameRecord.self, from: Data(bytes)) else {
                throw MessageStoreError(.corruption, "\(path): snapshot name record is undecodable")
            }
            out[name] = record.backup
        }
        return out
    }

    @discardableResult
    public func createSnapshot(name: String) async throws -> SnapshotInfo {
        try SnapshotInfo.validate(name: name)
        let db = try opened().db
        let hook = snapshotHook
        let keep = snapshotOptions.maxSnapshots
        let info: SnapshotInfo = try await mappingEngineErrors { try await offload { [self] in try snapshotSettings.serial.withLock { _ in
            let engine = try backupEngine()
            var named = try names()
            // Backups no name refers to are what an interrupted create left.
            let referenced = Set(named.values)
            for b in try engine.backups() where !referenced.contains(b.id) { try engine.deleteBackup(b.id) }
            for leftover in try fileSystem.listDirectory(at: namesDirectory) where leftover.hasSuffix(".strata-tmp") {
                try fileSystem.removeFile(at: namesDirectory + "/" + leftover)
            }
            if named[name] != nil { throw MessageStoreError(.alreadyExists, "snapshot \"\(name)\" already exists in \(snapshotSettings.directory)") }
            try hook?(.staged)
            let backup = try engine.createBackup(of: db)
            try hook?(.copied)
            try publish(name: name, backup: backup.id)
            try hook?(.published)
            named[name] = backup.id
            if keep > 0 {
                let byAge = named.sorted { $0.value < $1.value }.filter { $0.key != name }
                for (old, id) in byAge.dropLast(keep - 1) {
                    try unpublish(name: old)
                    try engine.deleteBackup(id)
                }
            }
            return SnapshotInfo(name: name, date: backup.timestamp, bytes: Int64(backup.size))
        } } }
        options.logger.notice("snapshot created", metadata: ["path": "\(path)", "snapshot": "\(name)", "bytes": "\(info.bytes)"])
        return info
    }

    private func publish(name: String, backup: Int) throws {
        let fs = fileSystem
        let temp = "\(namesDirectory)/.\(name).strata-tmp"
        let file = try fs.createFile(at: temp)
        try file.append(Array(try JSONEncoder().encode(NameRecord(backup: backup))))
        try file.sync()
        try file.close()
        try fs.rename(temp, to: "\(namesDirectory)/\(name)")
        try fs.syncDirectory(at: namesDirectory)
    }

    private func unpublish(name: String) throws {
        try fileSystem.removeFile(at: "\(namesDirectory)/\(name)")
        try fileSystem.syncDirectory(at: namesDirectory)
    }

    public func snapshots() async throws -> [SnapshotInfo] {
        try await mappingEngineErrors { try await offload { [self] in
            let named = try names()
            guard !named.isEmpty else { return [] }
            let backups = Dictionary(uniqueKeysWithValues: try backupEngine().backups().map { ($0.id, $0) })
            return named.compactMap { name, id in
                backups[id].map { SnapshotInfo(name: name, date: $0.timestamp, bytes: Int64($0.size)) }
            }.sorted { ($0.date, $0.name) < ($1.date, $1.name) }
        } }
    }

    /// Verifies the snapshot's files, restores them aside, then swaps them in
    /// for the live store (as `restore(from:)` does). Needs the POSIX file
    /// system (the swap renames directories through Foundation).
    public func restoreSnapshot(name: String) async throws {
        try SnapshotInfo.validate(name: name)
        let staging = snapshotSettings.directory + "/.restore-\(UUID().uuidString)"
        try await mappingEngineErrors { try await offload { [self] in try snapshotSettings.serial.withLock { _ in
            guard let id = try names()[name] else { throw MessageStoreError(.notFound, "no snapshot \"\(name)\" in \(snapshotSettings.directory)") }
            let engine = try backupEngine()
            do {
                try engine.verifyBackup(id)
                try engine.restore(id, to: staging)
            } catch let e as StrataError where e.kind == .corruption || e.kind == .notFound {
                throw MessageStoreError(.corruption, "snapshot \"\(name)\": \(e.message); restore refused", underlying: e)
            }
        } } }
        defer { try? FileManager.default.removeItem(atPath: staging) }
        try await restore(from: staging)
        options.logger.notice("snapshot restored", metadata: ["path": "\(path)", "snapshot": "\(name)"])
    }

    public func deleteSnapshot(name: String) async throws {
        try SnapshotInfo.validate(name: name)
        try await mappingEngineErrors { try await offload { [self] in try snapshotSettings.serial.withLock { _ in
            guard let id = try names()[name] else { throw MessageStoreError(.notFound, "no snapshot \"\(name)\" in \(snapshotSettings.directory)") }
            try unpublish(name: name)
            try backupEngine().deleteBackup(id)
        } } }
    }
}
