import Foundation
import Logging
import Synchronization

/// The engine behind `Database`: state, threads and the paths that change it.
///
/// Locking: `mu` guards the write side's state (`WriteState`: the write
/// queue, the flush hand-off, the live log, background error and shutdown,
/// reachable only through `guarded(held)`), the family set (`FamilySet`:
/// the live families' memtable pointers and pickers, reachable only
/// through `families(held)`), and serializes VersionSet mutations. A function that needs `mu` takes `_ held: borrowing
/// MonitorHeld`, the proof only `mu.withHeld` makes (Util/MonitorHeld.swift),
/// so calling it without the lock does not compile; it lets go of the lock
/// only through `held.unlocked { … }` and `held.wait()`. The write path
/// (GroupCommit.swift) is no exception: `commitGroup`, `makeRoomForWrite`
/// and `handOffLeadership` take the proof too. Readers never take `mu`:
/// they load `lastSequence` (atomic) and then their family's current
/// `SuperVersion` (short lock). The commit leader writes
/// the log and inserts into the memtable with `mu` released; only the
/// leader does either, so there is one memtable writer at a time.
final class DBCore: @unchecked Sendable {
    let path: String
    let options: Options
    let fs: any FileSystem
    let logger: Logger
    let versions: VersionSet
    let blockCache: BlockCache?
    let tableCache: TableCache
    let snapshots = SnapshotRegistry()
    let identity: DatabaseIdentity
    let defaultFamily: ColumnFamily
    let statistics: Statistics
    let compactions: CompactionControl

    /// Sequence number of the newest write visible to readers.
    let lastSequence = Atomic<UInt64>(0)
    /// Set once `close()` has begun; checked without `mu` on the read path.
    let closedFlag = Atomic<Bool>(false)
    /// Live families by id. Changed only with `mu` held, together with the
    /// family set (`addFamily`, `removeFamily`); read without `mu` by
    /// `validate` and the family lookups.
    let familyTable: Locked<[UInt32: ColumnFamily]>

    // MARK: guarded by mu
    let mu = Monitor()
    /// The write queue, flush hand-off, live log, background error and
    /// shutdown state: reachable only through `guarded(_:)`.
    private let writeState = WriteState()
    /// The live families' memtables and pickers and the commit leader's
    /// `ActiveMemtables`: reachable only through `families(_:)`.
    private let familySet: FamilySet

    // MARK: threads
    let commitParker = ThreadParker()
    /// The commit leader's buffer for a group's log record (leader only).
    let commitScratch = CommitScratch()
    let commitExited = ThreadParker()
    let flushExited = ThreadParker()
    private(set) var syncer: LogSyncer!
    private var dbLock: (any FileLock)?

    init(path: String, options: Options, lock: any FileLock) {
        self.path = path
        self.options = options
        self.fs = options.fileSystem
        self.logger = options.logger
        self.dbLock = lock
        self.compactions = CompactionControl(options: options)
        self.versions = VersionSet(directory: path, fileSystem: options.fileSystem, options: options)
        self.blockCache = options.blockCacheCapacity > 0 ? BlockCache(capacity: options.blockCacheCapacity) : nil
        self.statistics = Statistics(metrics: MetricsReporter.make(options: options, path: path))
        self.tableCache = TableCache(directory: path, fileSystem: options.fileSystem, blockCache: blockCache,
                                     capacity: options.tableCacheCapacity, mmapReads: options.allowMmapReads,
                                     statistics: statistics)
        let identity = DatabaseIdentity()
        self.identity = identity
        let state = ColumnFamilyState(name: "default", id: 0, options: ColumnFamilyOptions(databaseOptions: options),
                                      databaseOptions: options, owner: identity)
        self.defaultFamily = ColumnFamily(state: state)
        self.familyTable = Locked([0: defaultFamily])
        self.familySet = FamilySet(defaultFamily: state, databaseOptions: options)
        statistics.attach(blockCache: blockCache, tableCache: tableCache)
    }

    deinit {
        // Breaks the statistics <-> table cache cycle when open failed before close could.
        statistics.detachCaches()
    }

    /// The write side's guarded state, for holders of `mu` only.
    @inline(__always)
    func guarded(_ held: borrowing MonitorHeld) -> WriteState {
        assert(held.isFor(mu), "the proof of another monitor's lock")
        return writeState
    }

    /// The family set (memtable pointers, pickers), for holders of `mu` only.
    @inline(__always)
    func families(_ held: borrowing MonitorHeld) -> FamilySet {
        assert(held.isFor(mu), "the proof of another monitor's lock")
        return familySet
    }

    // MARK: column families

    /// Live families, "default" first, then by id. Any thread.
    var liveFamilies: [ColumnFamily] {
        familyTable.withLock { t in t.values.sorted { $0.id < $1.id } }
    }

    /// The state of `family` (nil = default). Throws `.invalidArgument` for
    /// a dropped family or one from another database. Any thread.
    @inline(__always)
    func resolve(_ family: ColumnFamily?) throws -> ColumnFamilyState {
        guard let family else { return defaultFamily.state }
        let state = family.state
        guard state.owner === identity else {
            throw StrataError(.invalidArgument, "column family \"\(family.name)\" belongs to another database (or an earlier open of \(path))")
        }
        guard !state.dropped.load(ordering: .acquiring) else {
            throw StrataError(.invalidArgument, "column family \"\(family.name)\" (id \(family.id)) has been dropped")
        }
        return state
    }

    /// Makes `state` a live family: in the family table (lookups without
    /// `mu`) and the family set, in one critical section. Its super version
    /// is the caller's to publish.
    @discardableResult
    func addFamily(_ state: ColumnFamilyState, _ held: borrowing MonitorHeld) -> ColumnFamily {
        let handle = ColumnFamily(state: state)
        familyTable.withLock { $0[state.id] = handle }
        families(held).add(state)
        return handle
    }

    /// Takes a dropped family out of the family table and the family set
    /// and lets go of its data (`releaseAfterDrop`), in one critical
    /// section: under `mu`, a family is a member exactly while it is not
    /// marked dropped.
    func removeFamily(_ state: ColumnFamilyState, _ held: borrowing MonitorHeld) {
        familyTable.withLock { $0[state.id] = nil }
        families(held).remove(state.id)
        state.releaseAfterDrop()
    }

    // MARK: super versions

    /// Publishes `family`'s current mem/imm/version to readers. A family no
    /// longer in the set (dropped) has published its last, empty, super
    /// version in `releaseAfterDrop`.
    func publishSuperVersion(_ family: ColumnFamilyState, _ held: borrowing MonitorHeld) {
        guard let m = families(held).member(family.id) else { return }
        let version = versions.current(family.id)
        family.install(SuperVersion(mem: m.mem, imm: m.imm, version: version))
        refreshCompactionPressure(held)
    }

    /// The current super version and the sequence to read it at, loaded
    /// together: every entry in its tables is at or below the sequence, so
    /// a compaction that dropped entries hidden by newer ones (it only sees
    /// published sequences) cannot have dropped one this read needs.
    @inline(__always)
    func readState(_ snapshot: Snapshot?, in family: ColumnFamilyState) -> (SuperVersion, SequenceNumber) {
        family.withSuperVersion { sv in (sv, snapshot?.sequence ?? lastSequence.load(ordering: .acquiring)) }
    }

    /// The current super version and a new snapshot, taken together (see `readState`).
    func readStateWithNewSnapshot(in family: ColumnFamilyState) -> (SuperVersion, Snapshot) {
        family.withSuperVersion { sv in (sv, snapshots.acquireLatest { lastSequence.load(ordering: .acquiring) }) }
    }

    // MARK: threads

    /// Compaction threads: `maxBackgroundCompactions` (at least one, see `Options.validated()`).
    var compactionThreadCount: Int { options.maxBackgroundCompactions }

    func startBackgroundThreads() {
        syncer = LogSyncer(
            currentLog: { [unowned self] in self.mu.withHeld { self.guarded($0).wal } },
            onError: { [unowned self] e in self.recordBackgroundError(e, during: "background log sync") }
        )
        syncer.start()
        let commit = Thread { [self] in commitThreadMain() }
        commit.name = "strata-commit"
        commit.start()
        let flush = Thread { [self] in flushThreadMain() }
        flush.name = "strata-flush"
        flush.start()
        for i in 0..<compactionThreadCount {
            let compaction = Thread { [self] in compactionThreadMain() }
            compaction.name = i == 0 ? "strata-compaction" : "strata-compaction-\(i)"
            compaction.start()
        }
        statistics.metrics?.start(interval: options.metricsPublishInterval, statistics: statistics)
    }

    /// Puts the database in read-only mode; takes `mu`.
    func recordBackgroundError(_ e: StrataError, during what: String) {
        mu.withHeld { setBackgroundError(e, during: what, $0) }
    }

    /// Puts the database in read-only mode (the first error wins) and wakes
    /// every waiter, so none waits for work that will not happen.
    func setBackgroundError(_ e: StrataError, during what: String, _ held: borrowing MonitorHeld) {
        if guarded(held).recordBackgroundError(e) {
            logger.error("strata: background error, database is now read-only",
                         metadata: ["during": "\(what)", "error": "\(e)", "path": "\(path)"])
        }
        held.broadcast()
        wakeCompaction(held)  // fails waiting compactRange calls
    }

    /// The error a refused write throws once `bgError` is set.
    func readOnlyError(_ held: borrowing MonitorHeld) -> StrataError {
        guarded(held).readOnlyError
    }

    @inline(__always)
    func checkOpen() throws {
        if closedFlag.load(ordering: .relaxed) { throw StrataError(.closed, "database at \(path) is closed") }
    }

    // MARK: files

    /// Creates a new log file and makes its directory entry durable.
    func createLog(number: UInt64) throws -> WALHandle {
        let p = DBPaths.log(path, number)
        let file = try fs.createFile(at: p)
        try fs.syncDirectory(at: path)
        return WALHandle(writer: LogWriter(file: file), number: number, path: p, statistics: statistics)
    }

    // MARK: close

    func close() throws {
        let first = mu.withHeld { held -> Bool in
            let s = guarded(held)
            if s.closing { return false }
            s.closing = true
            // Let queued writes finish; new ones are refused from now on.
            while !s.isIdle { held.wait() }
            // Data that never reached the log is flushed so a clean close keeps it.
            if s.hasUnloggedData && s.bgError == nil {
                s.takeLeadForClose()
                do { try makeRoomForWrite(force: true, held) } catch {}
                s.releaseLeadForClose()
            }
            while s.flushPending && s.bgError == nil { held.wait() }
            s.shuttingDown = true
            compactions.stopping.store(true, ordering: .relaxed)
            held.broadcast()
            wakeCompaction(held)
            return true
        }
        if !first { return }

        commitParker.unpark()
        commitExited.park()
        flushExited.park()
        for _ in 0..<compactionThreadCount { compactions.exited.park() }
        syncer.stop()
        closedFlag.store(true, ordering: .releasing)
        statistics.metrics?.stop(statistics: statistics)
        statistics.detachCaches()

        var firstError: StrataError?
        mu.withHeld { held in
            do { try guarded(held).takeLog()?.close() } catch let e as StrataError { firstError = e } catch {}
        }
        versions.close()
        dbLock?.unlock()
        dbLock = nil
        if let e = firstError { throw e }
    }
}
