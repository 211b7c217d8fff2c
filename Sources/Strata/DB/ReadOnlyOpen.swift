import Foundation

extension Database {
    /// Opens the database at `path` read-only, the way RocksDB's read-only
    /// instance does: another process (a broker) may hold it open and keep
    /// writing. The handle takes no LOCK (so there is no `.busy` conflict),
    /// never creates, changes or deletes a file (every file-system call that
    /// would is refused by `ReadOnlyFileSystem`), runs no flush or
    /// compaction, and sees the database as of the open: the tables the
    /// MANIFEST lists then, plus every record the logs held then, replayed
    /// into memory. Later writes of the other process are not seen; open
    /// again to catch up. Writes, `flush`, `compactRange`, column family
    /// changes and checkpoints throw `.readOnly`.
    ///
    /// The writer may rotate its MANIFEST, retire a log or delete a compacted
    /// table while the open reads them; the open then starts over (a few
    /// times) so the view it returns is one consistent state. Every table of
    /// that state is opened before this returns, so a later deletion by the
    /// writer does not take it away from the reader.
    public static func openReadOnly(at path: String, options: Options = Options()) throws -> Database {
        var o = options
        o.readOnly = true
        return try open(at: path, options: o)
    }
}

extension DBCore {
    /// How often a read-only open starts over after the writer changed the
    /// files under it.
    static let readOnlyOpenAttempts = 8

    static func openReadOnly(path: String, options: Options) throws -> DBCore {
        var o = options
        o.readOnly = true
        o.createIfMissing = false
        o.errorIfExists = false
        // The writer's newest log may end in a record it is still writing.
        o.walRecovery = .tolerateCorruptedTail
        // Tables are pinned open for the life of the handle (see below).
        o.maxOpenFiles = 0
        if !(o.fileSystem is ReadOnlyFileSystem) { o.fileSystem = ReadOnlyFileSystem(o.fileSystem) }
        guard o.fileSystem.isDirectory(at: path) else {
            throw StrataError(.notFound, "no database at \(path)")
        }
        var lastError: StrataError?
        for attempt in 0..<readOnlyOpenAttempts {
            let core = DBCore(path: path, options: o, lock: NoFileLock())
            do {
                try core.loadReadOnlyState()
                core.startBackgroundThreads()
                return core
            } catch let e as StrataError {
                // A file the open read was replaced under it (or a record
                // was half written): the writer moved on, so read again.
                guard e.kind == .notFound || e.kind == .corruption || e.kind == .ioError else { throw e }
                lastError = e
                core.logger.debug("strata: read-only open starts over", metadata: ["attempt": "\(attempt + 1)", "error": "\(e)"])
                usleep(useconds_t(2_000 << min(attempt, 6)))
            }
        }
        throw lastError ?? StrataError(.ioError, "\(path): read-only open failed")
    }

    /// Reads CURRENT, the MANIFEST and the logs it does not cover, and
    /// publishes that state; writes nothing.
    private func loadReadOnlyState() throws {
        let names = try fs.listDirectory(at: path)
        guard names.contains("CURRENT") else {
            throw StrataError(.invalidArgument, "\(path) is not a Strata database (no CURRENT)")
        }
        try versions.recover()
        restoreFamilies()
        let families = familyStates
        let minLog = versions.minLogNumber
        let logs = names.compactMap { n -> UInt64? in
            if case .log(let num) = DBPaths.parse(n), num >= minLog { return num }
            return nil
        }.sorted()
        var maxSequence = versions.lastSequence
        for number in logs {
            // Each family takes the records of a log at or above its log number.
            var others: [UInt32: Memtable] = [:]
            for f in families where f.id != 0 && number >= versions.logNumber(f.id) { others[f.id] = f.mem }
            let into = ActiveMemtables(defaultMemtable: number >= versions.logNumber(0) ? defaultFamily.state.mem : nil, others: others)
            let logPath = DBPaths.log(path, number)
            let file = try fs.openForReading(at: logPath)
            defer { file.close() }
            let reader = LogReader(file: file, path: logPath, mode: options.walRecovery)
            while let record = try reader.next() {
                let batch = try WriteBatch(decoding: record)
                if batch.count > 0 {
                    try record.withUnsafeBytes { try insert(batchBytes: $0, into: into) }
                    maxSequence = max(maxSequence, batch.sequence + UInt64(batch.count) - 1)
                }
            }
        }
        // Pin every table of the state: the writer may delete one after a
        // compaction, and an open file stays readable after its unlink.
        for f in families {
            for level in versions.current(f.id).files {
                for t in level { _ = try tableCache.reader(for: t, comparator: f.comparator) }
            }
        }
        versions.lastSequence = maxSequence
        lastSequence.store(maxSequence, ordering: .releasing)
        mu.withHeld { held in
            // Stops writes, flushes and compactions for the life of the handle.
            bgError = StrataError(.readOnly, "\(path) is open read-only (Database.openReadOnly): it never writes")
            rebuildActiveMemtables(held)
            for f in families { publishSuperVersion(f, held) }
        }
        logger.info("strata: opened database read-only", metadata: [
            "path": "\(path)", "logs-replayed": "\(logs.count)", "last-sequence": "\(maxSequence)",
        ])
    }
}

/// The lock of a read-only handle: nothing to take, nothing to release.
private final class NoFileLock: FileLock {
    func unlock() {}
}

/// A file system that reads through `base` and refuses every call that would
/// create, change or remove a file or directory with `.readOnly` — the
/// guarantee behind `Database.openReadOnly`. `lockFile` takes nothing (a
/// read-only handle coexists with the writer holding the LOCK).
public struct ReadOnlyFileSystem: FileSystem {
    /// The file system reads go to.
    public let base: any FileSystem

    /// Wraps `base`.
    public init(_ base: any FileSystem) { self.base = base }

    private func refuse(_ what: String, _ path: String) -> StrataError {
        StrataError(.readOnly, "\(path): \(what) refused, the database is open read-only")
    }

    /// Refused.
    public func createFile(at path: String) throws -> any WritableFile { throw refuse("create", path) }
    /// Refused.
    public func openForAppend(at path: String) throws -> any WritableFile { throw refuse("append", path) }
    /// Reads through `base`.
    public func openForReading(at path: String) throws -> any ReadableFile { try base.openForReading(at: path) }
    /// Reads through `base`.
    public func openForMappedReading(at path: String) throws -> any ReadableFile { try base.openForMappedReading(at: path) }
    /// Refused.
    public func rename(_ from: String, to: String) throws { throw refuse("rename", from) }
    /// Refused.
    public func hardLink(_ from: String, to: String) throws { throw refuse("hard link", from) }
    /// Refused.
    public func removeFile(at path: String) throws { throw refuse("remove", path) }
    /// Refused.
    public func removeDirectory(at path: String) throws { throw refuse("remove", path) }
    /// Lists through `base`.
    public func listDirectory(at path: String) throws -> [String] { try base.listDirectory(at: path) }
    /// Refused.
    public func createDirectory(at path: String) throws { throw refuse("create directory", path) }
    /// Refused.
    public func syncDirectory(at path: String) throws { throw refuse("sync", path) }
    /// Asks `base`.
    public func fileExists(at path: String) -> Bool { base.fileExists(at: path) }
    /// Asks `base`.
    public func isDirectory(at path: String) -> Bool { base.isDirectory(at: path) }
    /// Asks `base`.
    public func fileSize(at path: String) throws -> UInt64 { try base.fileSize(at: path) }
    /// Takes no lock: a read-only handle never conflicts with the writer.
    public func lockFile(at path: String) throws -> any FileLock { NoFileLock() }
}
