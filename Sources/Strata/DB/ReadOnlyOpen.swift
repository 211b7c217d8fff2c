import Foundation

extension Database {
    /// Opens the database at `path` read-only, the way RocksDB's read-only
    /// instance does: another process (a broker) may hold it open and keep
    /// writing. The handle takes no LOCK (so there is no `.busy` conflict),
    /// never creates, changes or deletes a file (every file-system call that
    /// would is refused by `ReadOnlyFileSystem`), runs no flush or
    /// compaction, and sees the database as of the open: the tables the
    /// MANIFEST lists then, plus every record the logs held then, replayed
    /// into memory. Later writes of the other process are not seen until
    /// `catchUp()` (or a new open). Writes, `flush`, `compactRange`, column
    /// family changes and checkpoints throw `.readOnly`.
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

    /// Brings a read-only handle up to date with the process writing the
    /// database, the way RocksDB's secondary instance does with
    /// `TryCatchUpWithPrimary`: reads CURRENT and the MANIFEST again (tables
    /// the writer flushed or compacted since), replays the logs the MANIFEST
    /// does not cover into fresh memtables, takes in column families the
    /// writer created and lets go of those it dropped. Returns whether the
    /// view moved (a newer sequence, other tables or other families).
    ///
    /// Each family switches to the new state at once, so a read of one family
    /// sees its old state or its new one, never a mix; families switch one
    /// after another. Iterators made before keep reading the state they were
    /// made on. A `Snapshot` taken before is not a stable view after: the
    /// writer's compactions do not know this process's snapshots, so take
    /// snapshots after catching up. It costs what the open costs (the
    /// MANIFEST and every live log read again); as the open does, it starts
    /// over when the writer changes the files under it, and throws only when
    /// that keeps happening or a file is damaged (then the handle keeps
    /// serving its earlier view). Only on a read-only handle: on any other
    /// it throws `.invalidArgument`.
    @discardableResult
    public func catchUp() throws -> Bool {
        try core.catchUpWithWriter()
    }
}

extension DBCore {
    /// How often a read-only open starts over after the writer changed the
    /// files under it.
    /// Tries of a read-only open or catch-up whose files the writer
    /// replaced under it, 2 ms apart doubling up to 128 ms (about 1.4 s in
    /// all). Eight (0.5 s) ran out once in CI beside a writer compacting
    /// flat out on a loaded machine (its log went before the read).
    static let readOnlyOpenAttempts = 16

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
        let states = restoreFamilies()
        // Replayed into memtables of their own and swapped in under `mu`,
        // as a catch-up does.
        let memtables = Dictionary(uniqueKeysWithValues: states.map { ($0.id, $0.makeMemtable()) })
        let (maxSequence, logs) = try replayLiveLogs(names, into: memtables)
        try pinTables(of: states)
        versions.lastSequence = maxSequence
        lastSequence.store(maxSequence, ordering: .releasing)
        mu.withHeld { held in
            // Stops writes, flushes and compactions for the life of the handle.
            guarded(held).recordBackgroundError(StrataError(.readOnly, "\(path) is open read-only (Database.openReadOnly): it never writes"))
            families(held).replaceMemtables(memtables)
            for f in states { publishSuperVersion(f, held) }
        }
        logger.info("strata: opened database read-only", metadata: [
            "path": "\(path)", "logs-replayed": "\(logs.count)", "last-sequence": "\(maxSequence)",
        ])
    }
}

// MARK: catching up

extension DBCore {
    /// One catch-up at a time in the process: each reads the MANIFEST into
    /// the shared `versions`, so two at once could publish out of order.
    private static let catchUpGate = Locked(())

    /// Replays the logs `names` lists at or above the smallest log number
    /// into `memtables` (by family id; each family takes the records of a log
    /// at or above its own log number). Returns the newest sequence (at
    /// least the MANIFEST's) and the logs read.
    fileprivate func replayLiveLogs(_ names: [String], into memtables: [UInt32: Memtable]) throws -> (SequenceNumber, [UInt64]) {
        let minLog = versions.minLogNumber
        let logs = names.compactMap { n -> UInt64? in
            if case .log(let num) = DBPaths.parse(n), num >= minLog { return num }
            return nil
        }.sorted()
        var maxSequence = versions.lastSequence
        for number in logs {
            var others: [UInt32: Memtable] = [:]
            for (id, m) in memtables where id != 0 && number >= versions.logNumber(id) { others[id] = m }
            let into = ActiveMemtables(defaultMemtable: number >= versions.logNumber(0) ? memtables[0] : nil, others: others)
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
        return (maxSequence, logs)
    }

    /// Opens every table of `families`' current versions: the writer may
    /// delete one after a compaction, and an open file stays readable after
    /// its unlink.
    fileprivate func pinTables(of families: [ColumnFamilyState]) throws {
        for f in families {
            for level in versions.current(f.id).files {
                for t in level { _ = try tableCache.reader(for: t, comparator: f.comparator) }
            }
        }
    }

    /// `Database.catchUp()`: starts over (as the open does) when the writer
    /// changed the files under it.
    func catchUpWithWriter() throws -> Bool {
        try checkOpen()
        guard options.readOnly else {
            throw StrataError(.invalidArgument, "catchUp() is for a handle from Database.openReadOnly; \(path) is open for writing")
        }
        return try Self.catchUpGate.withLock { _ in
            var lastError: StrataError?
            for attempt in 0..<Self.readOnlyOpenAttempts {
                do {
                    return try catchUpOnce()
                } catch let e as StrataError {
                    guard e.kind == .notFound || e.kind == .corruption || e.kind == .ioError else { throw e }
                    lastError = e
                    logger.debug("strata: catch-up starts over", metadata: ["attempt": "\(attempt + 1)", "error": "\(e)"])
                    usleep(useconds_t(2_000 << min(attempt, 6)))
                }
            }
            throw lastError ?? StrataError(.ioError, "\(path): catch-up failed")
        }
    }

    /// Table numbers of each family's current version.
    private func fileNumbers(_ families: [ColumnFamilyState]) -> [UInt32: Set<UInt64>] {
        var out: [UInt32: Set<UInt64>] = [:]
        for f in families { out[f.id] = Set(versions.current(f.id).files.joined().map(\.number)) }
        return out
    }

    /// One attempt: the new state is built aside (fresh memtables, new
    /// families' states) and published only once every file of it is read.
    private func catchUpOnce() throws -> Bool {
        let before = mu.withHeld { families($0).states }
        let filesBefore = fileNumbers(before)
        let sequenceBefore = lastSequence.load(ordering: .acquiring)
        let cachedBefore = versions.liveFileNumbers()

        let names = try fs.listDirectory(at: path)
        guard names.contains("CURRENT") else { throw StrataError(.notFound, "\(path): CURRENT is gone") }
        try versions.recover()
        let listed = versions.columnFamilies
        let existing = Dictionary(uniqueKeysWithValues: before.map { ($0.id, $0) })
        var states: [ColumnFamilyState] = []
        var added: [ColumnFamilyState] = []
        var memtables: [UInt32: Memtable] = [:]
        for (id, name) in listed {
            let s: ColumnFamilyState
            if let known = existing[id] {
                s = known
            } else {
                var o = versions.familyOptions(id) ?? ColumnFamilyOptions()
                o.comparator = versions.comparator(id)
                s = ColumnFamilyState(name: name, id: id, options: o, databaseOptions: options, owner: identity)
                added.append(s)
            }
            states.append(s)
            memtables[id] = s.makeMemtable()
        }
        let (replayed, logs) = try replayLiveLogs(names, into: memtables)
        try pinTables(of: states)
        let kept = Set(listed.map(\.id))
        let dropped = before.filter { !kept.contains($0.id) }
        let sequence = max(replayed, sequenceBefore)

        mu.withHeld { held in
            // The sequence first: a reader on an old super version at the new
            // sequence sees the old state; the reverse could miss entries.
            versions.lastSequence = sequence
            lastSequence.store(sequence, ordering: .releasing)
            for s in added { addFamily(s, held) }
            for s in dropped { removeFamily(s, held) }
            families(held).replaceMemtables(memtables)
            for s in families(held).states { publishSuperVersion(s, held) }
        }
        // Tables the writer deleted that no reader holds any more.
        let live = versions.liveFileNumbers()
        for n in cachedBefore where !live.contains(n) { tableCache.evict(n) }

        let changed = sequence != sequenceBefore || !added.isEmpty || !dropped.isEmpty || fileNumbers(states) != filesBefore
        logger.debug("strata: caught up with the writer", metadata: [
            "path": "\(path)", "logs-replayed": "\(logs.count)", "last-sequence": "\(sequence)", "changed": "\(changed)",
        ])
        return changed
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
