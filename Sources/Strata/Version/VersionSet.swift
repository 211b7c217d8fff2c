import Synchronization

/// Owns the MANIFEST and the current `Version` of each column family.
///
/// Mutations (`create`, `recover`, `logAndApply`, `close`) are serialized
/// by the caller (the database holds its own lock around them); they also
/// take `manifestLock`, so overlapping calls are safe, just not useful.
/// `current(_:)`, the counters and the family list may be read from any
/// thread at any time: they live behind `state` or in atomics.
///
/// Protocol: after `create()` or `recover()`, the first `logAndApply`
/// starts a new MANIFEST holding a full snapshot, syncs it, points CURRENT
/// at it (temp file, sync, rename, directory sync) and removes the old one.
/// An old manifest, possibly ending in a torn record, is never appended to.
/// Once the MANIFEST passes `Options.maxManifestFileSize`, the next
/// `logAndApply` does the same again (rotation by size).
/// If `logAndApply` fails, the manifest writer is dropped and the next call
/// starts a fresh manifest; the database should treat the failure as fatal
/// for writes, since the edit may or may not have become durable.
final class VersionSet: Sendable {
    let directory: String
    let fileSystem: any FileSystem
    let options: Options
    /// Resolves each family's recorded comparator name at recovery.
    private let resolveComparator: ComparatorResolver

    /// What readers see; replaced whole on each installed edit.
    private struct State: Sendable {
        var versions: [UInt32: Version] = [0: .empty]
        var names: [UInt32: String] = [0: "default"]
        var logNumbers: [UInt32: UInt64] = [0: 0]
        var maxColumnFamily: UInt32 = 0
        var familyOptions: [UInt32: ColumnFamilyOptions] = [:]
        var comparators: [UInt32: Comparator] = [0: .bytewise]
    }

    /// The open manifest, touched only by mutations.
    private struct ManifestState {
        var writer: LogWriter?
        var number: UInt64 = 0
    }

    private let state = Locked(State())
    private let manifestLock = Locked(ManifestState())
    private let nextFile = Atomic<UInt64>(2)
    private let lastSeq = Atomic<UInt64>(0)
    private let manifestNumber = Atomic<UInt64>(0)
    /// Every installed version still referenced somewhere (see `LiveVersions`).
    let liveVersions = LiveVersions()

    /// `resolve` maps recorded comparator names to comparators at
    /// recovery; by default `Options.comparatorResolver` (the default
    /// family must use `options.comparator`, others their entry in
    /// `options.columnFamilyComparators` or a built-in comparator).
    init(directory: String, fileSystem: any FileSystem, options: Options, resolve: ComparatorResolver? = nil) {
        self.directory = directory
        self.fileSystem = fileSystem
        self.options = options
        self.resolveComparator = resolve ?? options.comparatorResolver
    }

    // MARK: Reading the state

    /// The current version of family `cf`; an empty version for a family
    /// that does not exist (or was dropped).
    func current(_ cf: UInt32 = 0) -> Version {
        state.withLock { $0.versions[cf] } ?? .empty
    }

    /// Allocates a new file number (tables, logs, manifests share one space).
    func newFileNumber() -> UInt64 {
        nextFile.wrappingAdd(1, ordering: .relaxed).oldValue
    }

    /// Makes sure `number` is never allocated again (for files found on disk
    /// during recovery, e.g. logs newer than the MANIFEST knows).
    func markFileNumberUsed(_ number: UInt64) {
        var current = nextFile.load(ordering: .relaxed)
        while current <= number {
            let (exchanged, original) = nextFile.compareExchange(expected: current, desired: number + 1, ordering: .relaxed)
            if exchanged { return }
            current = original
        }
    }

    /// The next file number that `newFileNumber()` would return.
    var nextFileNumber: UInt64 { nextFile.load(ordering: .relaxed) }

    /// The last sequence number committed; the database sets it after each commit.
    var lastSequence: UInt64 {
        get { lastSeq.load(ordering: .acquiring) }
        set { lastSeq.store(newValue, ordering: .releasing) }
    }

    /// Number of the manifest CURRENT names (0 before create/recover).
    var manifestFileNumber: UInt64 { manifestNumber.load(ordering: .acquiring) }

    /// Logs with a number below this are obsolete for family `cf`.
    func logNumber(_ cf: UInt32) -> UInt64 {
        state.withLock { $0.logNumbers[cf] } ?? 0
    }

    /// The smallest log number of all families: logs below it are deletable.
    var minLogNumber: UInt64 {
        state.withLock { $0.logNumbers.values.min() } ?? 0
    }

    /// Existing families, by id ("default" = 0 first).
    var columnFamilies: [(id: UInt32, name: String)] {
        state.withLock { s in s.names.sorted { $0.key < $1.key }.map { (id: $0.key, name: $0.value) } }
    }

    /// The options recorded for family `cf` when it was created (nil for
    /// "default", whose options come from `Options`, and for families
    /// recorded without them).
    /// Their comparator is the family's.
    func familyOptions(_ cf: UInt32) -> ColumnFamilyOptions? {
        state.withLock { s in
            s.familyOptions[cf].map { o in
                var o = o
                o.comparator = s.comparators[cf] ?? .bytewise
                return o
            }
        }
    }

    /// The comparator of family `cf` (byte-wise for a family that does not exist).
    func comparator(_ cf: UInt32) -> Comparator {
        state.withLock { $0.comparators[cf] } ?? .bytewise
    }

    /// Largest family id ever used; a new family takes a larger one.
    var maxColumnFamily: UInt32 { state.withLock { $0.maxColumnFamily } }

    /// Table file numbers referenced by the current versions and by every
    /// older version still held by a reader: not deletable.
    func liveFileNumbers() -> Set<UInt64> {
        var live = liveVersions.liveFileNumbers()
        state.withLock { s in
            for v in s.versions.values {
                for level in v.files { for f in level { live.insert(f.number) } }
            }
        }
        return live
    }

    // MARK: Creating and recovering

    /// Creates a brand-new database: MANIFEST-000001 holding the initial
    /// state (comparator, the "default" family, counters) and CURRENT.
    func create() throws {
        let currentPath = DBPaths.current(directory)
        if fileSystem.fileExists(at: currentPath) {
            throw StrataError(.invalidArgument, "\(currentPath): a database already exists in \(directory)")
        }
        try manifestLock.withLock { m in
            let comparator = options.comparator
            state.withLock { $0 = State(versions: [0: .empty(comparator)], comparators: [0: comparator]) }
            nextFile.store(2, ordering: .relaxed)
            lastSeq.store(0, ordering: .releasing)
            let number: UInt64 = 1
            let path = DBPaths.manifest(directory, number)
            let writer = LogWriter(file: try fileSystem.createFile(at: path))
            do {
                for edit in snapshotEdits() { try writer.addRecord(edit.encode()) }
                try writer.sync()
                try writer.close()
            } catch {
                try? writer.close()
                throw error
            }
            try setCurrent(number)
            m.writer = nil
            m.number = number
            manifestNumber.store(number, ordering: .releasing)
        }
    }

    /// Reads CURRENT and the MANIFEST it names and rebuilds the state.
    /// Missing or malformed files are `.corruption` naming the file; a torn
    /// final record is dropped (it was never acknowledged), but damage
    /// followed by valid records is corruption.
    func recover() throws {
        let currentPath = DBPaths.current(directory)
        guard fileSystem.fileExists(at: currentPath) else {
            throw StrataError(.corruption, "\(currentPath): missing, so the MANIFEST cannot be found")
        }
        let number = try readCurrent(currentPath)
        let manifestPath = DBPaths.manifest(directory, number)
        guard fileSystem.fileExists(at: manifestPath) else {
            throw StrataError(.corruption, "\(currentPath) names \(DBPaths.manifestName(number)), but \(manifestPath) is missing")
        }
        let file = try fileSystem.openForReading(at: manifestPath)
        defer { file.close() }
        let reader = LogReader(file: file, path: manifestPath, mode: .tolerateCorruptedTail)

        var builder = VersionSetBuilder.initial(defaultComparator: .bytewise, resolve: resolveComparator)
        var comparator: String?
        var nextFileNumber: UInt64?
        var lastSequence: UInt64?
        var edits = 0
        while let record = try reader.next() {
            let offset = reader.lastRecordOffset
            let edit = try VersionEdit(decoding: record, path: manifestPath, offset: offset)
            if edit.columnFamily == 0, let name = edit.comparatorName { comparator = name }
            do {
                try builder.apply(edit)
            } catch let e as StrataError where e.kind == .corruption {
                throw StrataError(.corruption, "\(manifestPath): version edit at offset \(offset): \(e.message)")
            }
            if let n = edit.nextFileNumber { nextFileNumber = n }
            if let s = edit.lastSequence { lastSequence = s }
            edits += 1
        }
        for report in reader.damageReports {
            options.logger.warning("dropped torn MANIFEST tail: \(report)")
        }
        guard edits > 0 else { throw StrataError(.corruption, "\(manifestPath): holds no version edits") }
        guard comparator != nil else { throw StrataError(.corruption, "\(manifestPath): no comparator recorded for the default column family") }
        guard let nextFileNumber else { throw StrataError(.corruption, "\(manifestPath): no next file number recorded") }
        guard let lastSequence else { throw StrataError(.corruption, "\(manifestPath): no last sequence recorded") }
        let versions: [UInt32: Version]
        do {
            versions = try builder.finish()
        } catch let e as StrataError where e.kind == .corruption {
            throw StrataError(.corruption, "\(manifestPath): \(e.message)")
        }

        var largestNumber = number
        for v in versions.values {
            for level in v.files { for f in level { largestNumber = max(largestNumber, f.number) } }
        }
        manifestLock.withLock { m in
            try? m.writer?.close()
            m.writer = nil
            m.number = number
            state.withLock {
                $0 = State(versions: versions, names: builder.names, logNumbers: builder.logNumbers,
                           maxColumnFamily: builder.maxColumnFamily, familyOptions: builder.familyOptions,
                           comparators: builder.comparators)
            }
            for v in versions.values { liveVersions.register(v) }
            nextFile.store(max(nextFileNumber, largestNumber + 1), ordering: .relaxed)
            lastSeq.store(lastSequence, ordering: .releasing)
            manifestNumber.store(number, ordering: .releasing)
        }
    }

    /// The manifest number CURRENT names ("MANIFEST-NNNNNN\n").
    private func readCurrent(_ path: String) throws -> UInt64 {
        let bytes: [UInt8]
        do {
            let file = try fileSystem.openForReading(at: path)
            defer { file.close() }
            bytes = try file.readAll(path: path)
        } catch let e as StrataError where e.kind == .notFound {
            throw StrataError(.corruption, "\(path): missing, so the MANIFEST cannot be found")
        }
        guard bytes.count <= 64, bytes.last == UInt8(ascii: "\n"),
              let text = String(validating: bytes.dropLast(), as: UTF8.self),
              case let .manifest(number)? = DBPaths.parse(text), number > 0
        else {
            throw StrataError(.corruption, "\(path): does not name a MANIFEST (\(bytes.count) bytes)")
        }
        return number
    }

    // MARK: Changing the state

    /// Checks `edit` against the current state, appends it to the MANIFEST,
    /// syncs, then installs the new versions. Fills in `nextFileNumber` and
    /// `lastSequence` from the counters when nil. An edit inconsistent with
    /// the current files is `.invalidArgument` and nothing is written.
    ///
    /// An edit adding a family names its comparator (`comparatorName`);
    /// `newFamilyComparator` is that comparator (byte-wise when nil).
    func logAndApply(_ edit: VersionEdit, newFamilyComparator: Comparator? = nil) throws {
        try logAndApply([edit], newFamilyComparator: newFamilyComparator)
    }

    /// Applies `edits` in order, as if one at a time, but appends them all
    /// before one sync (several families' changes after one log switch).
    /// They are not atomic through a crash: a torn tail may keep a prefix of
    /// them, which must be a consistent state on its own (it is when each
    /// edit covers one family). Any invalid edit fails the whole call
    /// before anything is written.
    func logAndApply(_ edits: [VersionEdit], newFamilyComparator: Comparator? = nil) throws {
        if edits.isEmpty { return }
        try manifestLock.withLock { m in
            let before = state.withLock { $0 }
            let fresh = newFamilyComparator ?? .bytewise
            var builder = VersionSetBuilder(names: before.names, logNumbers: before.logNumbers,
                                            versions: before.versions, maxColumnFamily: before.maxColumnFamily,
                                            familyOptions: before.familyOptions, comparators: before.comparators,
                                            resolve: { family, recorded in
                guard recorded == fresh.name else {
                    throw StrataError(.invalidArgument, "column family \"\(family)\" is added with comparator \"\(recorded)\" but \"\(fresh.name)\" was supplied")
                }
                return fresh
            })
            let versions: [UInt32: Version]
            do {
                for edit in edits { try builder.apply(edit) }
                versions = try builder.finish()
            } catch let e as StrataError {
                throw StrataError(.invalidArgument, "invalid version edit: \(e.message)")
            }

            var oldManifest: UInt64?
            if m.writer == nil {
                oldManifest = m.number
                let number = newFileNumber()
                let writer = LogWriter(file: try fileSystem.createFile(at: DBPaths.manifest(directory, number)))
                do {
                    for e in snapshotEdits() { try writer.addRecord(e.encode()) }
                } catch {
                    try? writer.close()
                    try? fileSystem.removeFile(at: DBPaths.manifest(directory, number))
                    throw error
                }
                m.writer = writer
                m.number = number
            }
            guard let writer = m.writer else { preconditionFailure("manifest writer was just opened") }

            do {
                for var edit in edits {
                    if edit.nextFileNumber == nil { edit.nextFileNumber = nextFile.load(ordering: .relaxed) }
                    if edit.lastSequence == nil { edit.lastSequence = lastSeq.load(ordering: .acquiring) }
                    try writer.addRecord(edit.encode())
                }
                try writer.sync()
                if oldManifest != nil { try setCurrent(m.number) }
            } catch {
                // Never append to a manifest that may end in a partial record.
                // A new manifest file left behind is an orphan; it is not removed
                // here because CURRENT may already name it.
                try? writer.close()
                m.writer = nil
                m.number = manifestNumber.load(ordering: .acquiring)
                throw error
            }
            if writer.fileSize > options.maxManifestFileSize {
                // Rotation by size: the next call starts a new MANIFEST from
                // a snapshot (the same steps as the first call after open),
                // so the file does not grow for the life of the process.
                try? writer.close()
                m.writer = nil
            }
            if let old = oldManifest {
                manifestNumber.store(m.number, ordering: .releasing)
                if old != 0 && old != m.number {
                    do {
                        try fileSystem.removeFile(at: DBPaths.manifest(directory, old))
                    } catch {
                        options.logger.warning("could not remove old manifest \(DBPaths.manifest(directory, old)): \(error)")
                    }
                }
            }
            state.withLock {
                $0 = State(versions: versions, names: builder.names, logNumbers: builder.logNumbers,
                           maxColumnFamily: builder.maxColumnFamily, familyOptions: builder.familyOptions,
                           comparators: builder.comparators)
            }
            for v in versions.values { liveVersions.register(v) }
        }
    }

    /// Closes the manifest; the next `logAndApply` would start a new one.
    func close() {
        manifestLock.withLock { m in
            try? m.writer?.close()
            m.writer = nil
        }
    }

    /// Edits that recreate the whole current state: first the default
    /// family with the counters, then one per other family; each names its
    /// family's comparator.
    func snapshotEdits() -> [VersionEdit] {
        let s = state.withLock { $0 }
        var edits: [VersionEdit] = []
        for (cf, name) in s.names.sorted(by: { $0.key < $1.key }) {
            var e = VersionEdit()
            e.columnFamily = cf
            e.comparatorName = s.comparators[cf]?.name ?? Comparator.bytewise.name
            if cf == 0 {
                e.nextFileNumber = nextFile.load(ordering: .relaxed)
                e.lastSequence = lastSeq.load(ordering: .acquiring)
                e.maxColumnFamily = s.maxColumnFamily
            } else {
                e.addColumnFamily = name
                e.columnFamilyOptions = s.familyOptions[cf]
            }
            e.logNumber = s.logNumbers[cf] ?? 0
            let version = s.versions[cf] ?? .empty
            for (level, files) in version.files.enumerated() {
                for f in files { e.addFile(level: level, f) }
            }
            edits.append(e)
        }
        return edits
    }

    /// Points CURRENT at manifest `number`: temp file, sync, rename over
    /// CURRENT, sync the directory.
    private func setCurrent(_ number: UInt64) throws {
        let temp = DBPaths.join(directory, DBPaths.tempName(number))
        let file = try fileSystem.createFile(at: temp)
        do {
            try file.append(Array((DBPaths.manifestName(number) + "\n").utf8))
            try file.sync()
            try file.close()
            try fileSystem.rename(temp, to: DBPaths.current(directory))
        } catch {
            try? file.close()
            try? fileSystem.removeFile(at: temp)
            throw error
        }
        try fileSystem.syncDirectory(at: directory)
    }
}
