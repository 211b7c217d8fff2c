import Foundation

/// Incremental backups of a database into a directory.
///
/// Layout of the backup directory:
/// - `shared/<number>_<size>_<footer-crc>.sst`: table files, stored once and
///   shared by every backup that contains them (a table file never changes,
///   and its number, size and footer checksum identify it);
/// - `private/<id>/`: the backup's own MANIFEST, CURRENT and log files;
/// - `meta/<id>`: the backup's metadata (see `BackupMetadata`), written last
///   and atomically, so a crash mid-backup leaves no visible backup and the
///   earlier ones intact. Leftovers of such a crash are removed by the next
///   `createBackup`, `deleteBackup` or `purgeOldBackups`.
///
/// Safe to run while the database takes writes: a backup is a checkpoint
/// (see `Database.createCheckpoint`) copied into the backup directory.
/// One `BackupEngine` per directory at a time; its calls are serialized.
public final class BackupEngine: Sendable {
    /// The backup directory.
    public let directory: String
    private let fs: any FileSystem
    private let lock = Locked<Void>(())

    /// Opens (creating if needed) the backup directory.
    public init(directory: String, fileSystem: any FileSystem = POSIXFileSystem()) throws {
        var d = directory
        while d.hasSuffix("/") && d.count > 1 { d.removeLast() }
        self.directory = d
        self.fs = fileSystem
        for sub in ["", "/shared", "/private", "/meta"] { try fileSystem.createDirectory(at: d + sub) }
    }

    private var sharedDir: String { directory + "/shared" }
    private var privateDir: String { directory + "/private" }
    private var metaDir: String { directory + "/meta" }

    // MARK: listing

    /// Every complete backup, oldest first.
    public func backups() throws -> [BackupInfo] {
        try lock.withLock { _ in try loadAll().map(\.info) }
    }

    private func loadAll() throws -> [BackupMetadata] {
        var out: [BackupMetadata] = []
        for name in try fs.listDirectory(at: metaDir) {
            guard let id = Int(name) else { continue }
            let path = metaDir + "/" + name
            let bytes = try fs.openForReading(at: path).readAll(path: path)
            var meta = try BackupMetadata.decode(bytes, path: path)
            if meta.id != id { throw StrataError(.corruption, "\(path): metadata names backup \(meta.id)") }
            meta.id = id
            out.append(meta)
        }
        return out.sorted { $0.id < $1.id }
    }

    private func load(_ id: Int) throws -> BackupMetadata {
        let path = "\(metaDir)/\(id)"
        guard fs.fileExists(at: path) else { throw StrataError(.notFound, "no backup \(id) in \(directory)") }
        return try BackupMetadata.decode(try fs.openForReading(at: path).readAll(path: path), path: path)
    }

    // MARK: creating

    /// Backs up `db`. Table files already in the backup directory are shared,
    /// not copied again. `progress` is called with (bytes copied, bytes to copy).
    @discardableResult
    public func createBackup(of db: Database, progress: ((UInt64, UInt64) -> Void)? = nil) throws -> BackupInfo {
        try lock.withLock { _ in
            try removeLeftovers()
            let existing = try loadAll()
            let id = (existing.last?.id ?? 0) + 1
            let dbFS = db.options.fileSystem
            let checkpoint = db.path + ".backup-\(id)-\(getpid()).strata-tmp"
            try FileCopy.removeTree(checkpoint, fs: dbFS)
            try db.createCheckpoint(at: checkpoint)
            defer { try? FileCopy.removeTree(checkpoint, fs: dbFS) }

            let names = try dbFS.listDirectory(at: checkpoint)
            var plan: [(source: String, stored: String, name: String, copy: Bool, size: UInt64)] = []
            var toCopy: UInt64 = 0
            for name in names {
                let source = checkpoint + "/" + name
                let size = try dbFS.fileSize(at: source)
                if case .table = DBPaths.parse(name) {
                    let footer = try Self.footerChecksum(source, size: size, fs: dbFS)
                    let stored = "shared/\(name.dropLast(4))_\(size)_\(String(footer, radix: 16)).sst"
                    let present = fs.fileExists(at: directory + "/" + stored)
                    plan.append((source, stored, name, !present, size))
                    if !present { toCopy += size }
                } else {
                    plan.append((source, "private/\(id)/\(name)", name, true, size))
                    toCopy += size
                }
            }
            try fs.createDirectory(at: "\(privateDir)/\(id)")
            var files: [BackupFile] = []
            var copied: UInt64 = 0
            for p in plan {
                let dest = directory + "/" + p.stored
                let crc: UInt32
                if p.copy {
                    let temp = dest + ".strata-tmp"
                    crc = try FileCopy.copy(p.source, to: temp, fs: dbFS, destination: fs) { n in
                        copied += UInt64(n)
                        progress?(copied, toCopy)
                    }
                    try fs.rename(temp, to: dest)
                } else {
                    crc = try sharedChecksum(p.stored, existing: existing, dest: dest)
                }
                files.append(BackupFile(stored: p.stored, name: p.name, size: p.size, crc: crc))
            }
            try fs.syncDirectory(at: sharedDir)
            try fs.syncDirectory(at: "\(privateDir)/\(id)")
            try fs.syncDirectory(at: privateDir)
            let meta = BackupMetadata(id: id, timestamp: Date().timeIntervalSince1970,
                                      sequence: UInt64(db.property("strata.last-sequence") ?? "0") ?? 0, files: files)
            try writeMetadata(meta)
            return meta.info
        }
    }

    /// The checksum recorded for a shared file by an earlier backup (or
    /// computed now if none records it).
    private func sharedChecksum(_ stored: String, existing: [BackupMetadata], dest: String) throws -> UInt32 {
        for m in existing { if let f = m.files.first(where: { $0.stored == stored }) { return f.crc } }
        return try FileCopy.checksum(dest, fs: fs).crc
    }

    /// The stored checksum of a table's footer: with number and size, it
    /// tells a table apart from another database's table of the same name.
    static func footerChecksum(_ path: String, size: UInt64, fs: any FileSystem) throws -> UInt32 {
        let n = Int(min(size, 64))
        let file = try fs.openForReading(at: path)
        defer { file.close() }
        let tail = try file.readExactly(at: size - UInt64(n), count: n, path: path)
        return CRC32C.checksum(tail)
    }

    private func writeMetadata(_ meta: BackupMetadata) throws {
        let temp = "\(metaDir)/.\(meta.id).strata-tmp"
        let f = try fs.createFile(at: temp)
        try f.append(meta.encode())
        try f.sync()
        try f.close()
        try fs.rename(temp, to: "\(metaDir)/\(meta.id)")
        try fs.syncDirectory(at: metaDir)
    }

    // MARK: verifying and restoring

    /// Recomputes every file's size and checksum; throws `.corruption`
    /// naming the first file that differs (or `.notFound` if missing).
    public func verifyBackup(_ id: Int) throws {
        try lock.withLock { _ in
            let meta = try load(id)
            for f in meta.files {
                let path = directory + "/" + f.stored
                guard fs.fileExists(at: path) else { throw StrataError(.notFound, "backup \(id): \(path) is missing") }
                let (crc, size) = try FileCopy.checksum(path, fs: fs)
                if size != f.size || crc != f.crc {
                    throw StrataError(.corruption, "backup \(id): \(path) is damaged (size \(size), expected \(f.size); checksum \(String(crc, radix: 16)), expected \(String(f.crc, radix: 16)))")
                }
            }
        }
    }

    /// Restores backup `id` into `target` (a directory that does not exist
    /// or is empty, unless `overwrite` allows replacing its contents). Every
    /// file is checked against its checksum while it is copied; a damaged
    /// backup is refused and leaves the target untouched.
    public func restore(_ id: Int, to target: String, overwrite: Bool = false, fileSystem targetFS: (any FileSystem)? = nil) throws {
        try lock.withLock { _ in
            let tfs = targetFS ?? fs
            var target = target
            while target.hasSuffix("/") && target.count > 1 { target.removeLast() }
            let meta = try load(id)
            if tfs.fileExists(at: target) {
                let entries = tfs.isDirectory(at: target) ? try tfs.listDirectory(at: target) : ["(a file)"]
                if !entries.isEmpty && !overwrite {
                    throw StrataError(.invalidArgument, "restore target \(target) is not empty (pass overwrite to replace it)")
                }
            }
            let temp = target + ".strata-tmp"
            try FileCopy.removeTree(temp, fs: tfs)
            try tfs.createDirectory(at: temp)
            do {
                for f in meta.files {
                    let crc = try FileCopy.copy(directory + "/" + f.stored, to: temp + "/" + f.name, fs: fs, destination: tfs)
                    let size = try tfs.fileSize(at: temp + "/" + f.name)
                    if crc != f.crc || size != f.size {
                        throw StrataError(.corruption, "backup \(id): \(directory)/\(f.stored) is damaged; restore refused")
                    }
                }
                try tfs.syncDirectory(at: temp)
            } catch {
                try? FileCopy.removeTree(temp, fs: tfs)
                throw error
            }
            try FileCopy.removeTree(target, fs: tfs)
            try tfs.rename(temp, to: target)
            try tfs.syncDirectory(at: FileCopy.parentDirectory(of: target))
        }
    }

    // MARK: deleting

    /// Deletes backup `id` and the shared files no other backup uses.
    public func deleteBackup(_ id: Int) throws {
        try lock.withLock { _ in
            _ = try load(id)
            try fs.removeFile(at: "\(metaDir)/\(id)")
            try fs.syncDirectory(at: metaDir)
            try removeLeftovers()
        }
    }

    /// Keeps the newest `keeping` backups and deletes the others.
    public func purgeOldBackups(keeping: Int) throws {
        guard keeping >= 0 else { throw StrataError(.invalidArgument, "purgeOldBackups(keeping:) needs a count >= 0") }
        try lock.withLock { _ in
            let all = try loadAll()
            for m in all.dropLast(keeping) { try fs.removeFile(at: "\(metaDir)/\(m.id)") }
            try fs.syncDirectory(at: metaDir)
            try removeLeftovers()
        }
    }

    /// Removes what no complete backup refers to: private folders of
    /// unfinished or deleted backups, unreferenced shared files, temp files.
    private func removeLeftovers() throws {
        let metas = try loadAll()
        let live = Set(metas.map(\.id))
        var referenced = Set<String>()
        for m in metas { for f in m.files { referenced.insert(f.stored) } }
        for name in try fs.listDirectory(at: privateDir) where !(Int(name).map(live.contains) ?? false) {
            try FileCopy.removeTree("\(privateDir)/\(name)", fs: fs)
        }
        for name in try fs.listDirectory(at: sharedDir) where !referenced.contains("shared/" + name) {
            try fs.removeFile(at: "\(sharedDir)/\(name)")
        }
        for name in try fs.listDirectory(at: metaDir) where name.hasSuffix(".strata-tmp") {
            try fs.removeFile(at: "\(metaDir)/\(name)")
        }
    }
}
