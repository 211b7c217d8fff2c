import CStrataSupport
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Named snapshots kept as directories, for the file-backed stores (SQLite,
/// JSON): the store writes its native consistent copy (`backup(to:)`) into a
/// staging directory, and publishing is one rename.
///
/// Layout of the snapshot directory:
/// - `<name>/data`: the store's copy (a file or a directory);
/// - `<name>/info.json`: `{"name", "date", "bytes", "checksum"}` — CRC32C
///   over every file of `data` in path order (path bytes, then contents),
///   checked before a restore;
/// - `.staging-<uuid>/`: a snapshot being created; `.deleting-<uuid>/`: one
///   being deleted.
///
/// Crash safety: the copy and `info.json` are fsynced, then the staging
/// directory is renamed to `<name>` and the parent fsynced. A crash before
/// the rename leaves only a `.staging-` directory, which `snapshots()` never
/// lists and the next create or delete removes; earlier snapshots are never
/// touched. Deleting renames to `.deleting-` first, so a half-deleted
/// snapshot is never listed either.
package struct DirectorySnapshots: Sendable {
    /// The snapshot directory.
    package let directory: String

    private struct Info: Codable {
        var name: String
        var date: Date
        var bytes: Int64
        var checksum: UInt32
    }

    /// Snapshots in `directory` (created on first use).
    package init(directory: String) {
        var d = directory
        while d.hasSuffix("/") && d.count > 1 { d.removeLast() }
        self.directory = d
    }

    private var fm: FileManager { FileManager.default }

    /// Every published snapshot, oldest first.
    package func list() throws -> [SnapshotInfo] {
        guard fm.fileExists(atPath: directory) else { return [] }
        var out: [SnapshotInfo] = []
        for entry in try fm.contentsOfDirectory(atPath: directory) where !entry.hasPrefix(".") {
            guard let info = try? readInfo(entry) else { continue }
            out.append(SnapshotInfo(name: info.name, date: info.date, bytes: info.bytes))
        }
        return out.sorted { ($0.date, $0.name) < ($1.date, $1.name) }
    }

    private func readInfo(_ name: String) throws -> Info {
        let path = "\(directory)/\(name)/info.json"
        guard let data = fm.contents(atPath: path) else { throw MessageStoreError(.notFound, "no snapshot \"\(name)\" in \(directory)") }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .millisecondsSince1970
        do { return try decoder.decode(Info.self, from: data) } catch {
            throw MessageStoreError(.corruption, "\(path) is undecodable: \(error)")
        }
    }

    /// Creates snapshot `name`: `write` puts the store's copy at the path it
    /// is given (which does not exist yet). Then applies `maxSnapshots`.
    /// `hook` runs between the steps (tests kill the process there by
    /// throwing: nothing is cleaned up then, as after a real kill).
    package func create(name: String, maxSnapshots: Int, hook: SnapshotHook?,
                        write: (String) async throws -> Void) async throws -> SnapshotInfo {
        try SnapshotInfo.validate(name: name)
        let lock = try await SnapshotDirectoryLock.acquire(directory)
        defer { withExtendedLifetime(lock) {} }
        let staging = "\(directory)/.staging-\(UUID().uuidString)"
        try await offload { [self] in
            try fm.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try removeLeftovers()
            if fm.fileExists(atPath: "\(directory)/\(name)") {
                throw MessageStoreError(.alreadyExists, "snapshot \"\(name)\" already exists in \(directory)")
            }
            try fm.createDirectory(atPath: staging, withIntermediateDirectories: false)
        }
        try hook?(.staged)
        try await write(staging + "/data")
        // Checksums and fsyncs block: off the cooperative pool.
        let info: Info = try await offload {
            let (checksum, bytes) = try Self.checksum(of: staging + "/data")
            let info = Info(name: name, date: Date(), bytes: bytes, checksum: checksum)
            let encoder = JSONEncoder()
            encoder.dateEncodingStrategy = .millisecondsSince1970
            try encoder.encode(info).write(to: URL(fileURLWithPath: staging + "/info.json"))
            try Self.syncTree(staging)
            return info
        }
        let bytes = info.bytes
        try hook?(.copied)
        // moveItem refuses an existing target: of two creates of one name,
        // the second fails here.
        do { try fm.moveItem(atPath: staging, toPath: "\(directory)/\(name)") } catch {
            throw MessageStoreError(.alreadyExists, "snapshot \"\(name)\" already exists in \(directory)")
        }
        try Self.sync(directory)
        try hook?(.published)
        if maxSnapshots > 0 {
            for old in try list().filter({ $0.name != name }).dropLast(max(0, maxSnapshots - 1)) { try deleteLocked(name: old.name) }
        }
        return SnapshotInfo(name: name, date: info.date, bytes: bytes)
    }

    /// Checks snapshot `name` against its checksum and hands a private copy
    /// of its data to `apply` (so the store may open, change or move it);
    /// the copy is removed afterwards.
    package func restore(name: String, apply: (String) async throws -> Void) async throws {
        try SnapshotInfo.validate(name: name)
        let lock = try await SnapshotDirectoryLock.acquire(directory)
        defer { withExtendedLifetime(lock) {} }
        let info = try readInfo(name)
        let data = "\(directory)/\(name)/data"
        let work = "\(directory)/.restoring-\(UUID().uuidString)"
        defer { try? fm.removeItem(atPath: work) }
        try await offload { [directory] in
            let (checksum, bytes) = try Self.checksum(of: data)
            guard checksum == info.checksum, bytes == info.bytes else {
                throw MessageStoreError(.corruption, "snapshot \"\(name)\" in \(directory) is damaged (checksum \(String(checksum, radix: 16)), expected \(String(info.checksum, radix: 16)); \(bytes) bytes, expected \(info.bytes)); restore refused")
            }
            try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: false)
            try FileManager.default.copyItem(atPath: data, toPath: work + "/data")
        }
        try await apply(work + "/data")
    }

    /// Deletes snapshot `name` (`.notFound` if there is none).
    package func delete(name: String) async throws {
        try SnapshotInfo.validate(name: name)
        let lock = try await SnapshotDirectoryLock.acquire(directory)
        defer { withExtendedLifetime(lock) {} }
        try deleteLocked(name: name)
    }

    /// Deletes `name`; the caller holds the directory lock.
    private func deleteLocked(name: String) throws {
        let path = "\(directory)/\(name)"
        let doomed = "\(directory)/.deleting-\(UUID().uuidString)"
        guard fm.fileExists(atPath: path) else { throw MessageStoreError(.notFound, "no snapshot \"\(name)\" in \(directory)") }
        try fm.moveItem(atPath: path, toPath: doomed)
        try Self.sync(directory)
        try fm.removeItem(atPath: doomed)
    }

    /// Removes what an interrupted create, delete or restore left.
    private func removeLeftovers() throws {
        for entry in try fm.contentsOfDirectory(atPath: directory)
        where entry.hasPrefix(".staging-") || entry.hasPrefix(".deleting-") || entry.hasPrefix(".restoring-") {
            try fm.removeItem(atPath: "\(directory)/\(entry)")
        }
    }

    // MARK: files

    /// CRC32C and byte count over every regular file under `path` (or of the
    /// file itself), in sorted path order; relative paths are hashed too, so
    /// a renamed file changes the checksum.
    package static func checksum(of path: String) throws -> (UInt32, Int64) {
        var crc: UInt32 = 0
        var bytes: Int64 = 0
        for (relative, full) in try files(under: path) {
            let name = Array(relative.utf8)
            crc = name.withUnsafeBytes { strata_crc32c_extend(crc, $0.baseAddress, $0.count) }
            guard let h = FileHandle(forReadingAtPath: full) else { throw MessageStoreError(.notFound, "cannot read \(full)") }
            defer { try? h.close() }
            while let chunk = try h.read(upToCount: 1 << 20), !chunk.isEmpty {
                crc = chunk.withUnsafeBytes { strata_crc32c_extend(crc, $0.baseAddress, $0.count) }
                bytes += Int64(chunk.count)
            }
        }
        return (crc, bytes)
    }

    /// (relative path, full path) of every regular file under `path`, sorted.
    private static func files(under path: String) throws -> [(String, String)] {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw MessageStoreError(.notFound, "\(path) does not exist")
        }
        if !isDir.boolValue { return [("", path)] }
        var out: [(String, String)] = []
        for relative in try FileManager.default.subpathsOfDirectory(atPath: path).sorted() {
            var d: ObjCBool = false
            let full = path + "/" + relative
            if FileManager.default.fileExists(atPath: full, isDirectory: &d), !d.boolValue { out.append((relative, full)) }
        }
        return out
    }

    /// fsyncs every file and directory under `path`, then `path` itself.
    package static func syncTree(_ path: String) throws {
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue {
            for relative in try FileManager.default.subpathsOfDirectory(atPath: path) { try sync(path + "/" + relative) }
        }
        try sync(path)
    }

    /// fsync of one file or directory.
    package static func sync(_ path: String) throws {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw MessageStoreError(.ioError, "cannot open \(path) to sync it: errno \(errno)") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw MessageStoreError(.ioError, "fsync of \(path) failed: errno \(errno)") }
    }
}
