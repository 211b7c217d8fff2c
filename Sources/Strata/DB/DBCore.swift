import Foundation
import Logging
import Synchronization

/// The engine behind `Database`: state, threads and the paths that change it.
///
/// Locking: `mu` guards the write queue, the memtable pointers, the live
/// log, background error and shutdown state, and serializes VersionSet
/// mutations. Readers never take `mu`: they load `lastSequence` (atomic) and
/// then the current `SuperVersion` (short `Mutex`). The commit leader writes
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
    let defaultFamily = ColumnFamily(name: "default", id: 0)
    let statistics: Statistics
    let compactions: CompactionControl

    /// Sequence number of the newest write visible to readers.
    let lastSequence = Atomic<UInt64>(0)
    /// Set once `close()` has begun; checked without `mu` on the read path.
    let closedFlag = Atomic<Bool>(false)
    private let superVersionBox: Locked<SuperVersion>

    // MARK: guarded by mu
    let mu = Monitor()
    var writers: [PendingWrite] = []
    var leaderActive = false
    var mem: Memtable
    var imm: Memtable?
    var wal: WALHandle?
    var logNumber: UInt64 = 0
    var bgError: StrataError?
    var closing = false
    var shuttingDown = false
    /// A `.memoryOnly` write went into the active memtable since the last switch.
    var unloggedWrites = false
    var immHasUnloggedWrites = false

    // MARK: threads
    let commitParker = ThreadParker()
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
                                     maxOpenFiles: options.maxOpenFiles, statistics: statistics)
        statistics.attach(blockCache: blockCache, tableCache: tableCache)
        let m = Memtable()
        self.mem = m
        self.superVersionBox = Locked(SuperVersion(mem: m, imm: nil, version: Version.empty))
    }

    deinit {
        // Breaks the statistics <-> table cache cycle when open failed before close could.
        statistics.detachCaches()
    }

    var tableOptions: TableBuilderOptions {
        var t = TableBuilderOptions()
        t.blockSize = options.blockSize
        t.restartInterval = options.blockRestartInterval
        t.compression = options.compression
        t.bloomBitsPerKey = options.bloomBitsPerKey
        return t
    }

    // MARK: super versions

    /// Publishes the current mem/imm/version to readers. Caller holds `mu`.
    func publishSuperVersion() {
        let version = versions.current(0)
        let sv = SuperVersion(mem: mem, imm: imm, version: version)
        superVersionBox.withLock { $0 = sv }
        refreshCompactionPressureLocked(version)
    }

    @inline(__always)
    func currentSuperVersion() -> SuperVersion {
        superVersionBox.withLock { $0 }
    }

    /// The current super version and the sequence to read it at, loaded
    /// together: every entry in its tables is at or below the sequence, so
    /// a compaction that dropped entries hidden by newer ones (it only sees
    /// published sequences) cannot have dropped one this read needs.
    @inline(__always)
    func readState(_ snapshot: Snapshot?) -> (SuperVersion, SequenceNumber) {
        superVersionBox.withLock { sv in (sv, snapshot?.sequence ?? lastSequence.load(ordering: .acquiring)) }
    }

    /// The current super version and a new snapshot, taken together (see `readState`).
    func readStateWithNewSnapshot() -> (SuperVersion, Snapshot) {
        superVersionBox.withLock { sv in (sv, snapshots.acquireLatest { lastSequence.load(ordering: .acquiring) }) }
    }

    // MARK: threads

    func startBackgroundThreads() {
        syncer = LogSyncer(
            currentLog: { [unowned self] in self.mu.withLock { self.wal } },
            onError: { [unowned self] e in self.recordBackgroundError(e, during: "background log sync") }
        )
        syncer.start()
        let commit = Thread { [self] in commitThreadMain() }
        commit.name = "strata-commit"
        commit.start()
        let flush = Thread { [self] in flushThreadMain() }
        flush.name = "strata-flush"
        flush.start()
        let compaction = Thread { [self] in compactionThreadMain() }
        compaction.name = "strata-compaction"
        compaction.start()
        statistics.metrics?.start(interval: options.metricsPublishInterval, statistics: statistics)
    }

    /// Puts the database in read-only mode. Caller may or may not hold `mu`.
    func recordBackgroundError(_ e: StrataError, during what: String) {
        mu.lock()
        setBackgroundErrorLocked(e, during: what)
        mu.unlock()
    }

    func setBackgroundErrorLocked(_ e: StrataError, during what: String) {
        if bgError == nil {
            bgError = e
            logger.error("strata: background error, database is now read-only",
                         metadata: ["during": "\(what)", "error": "\(e)", "path": "\(path)"])
        }
        mu.broadcast()
        wakeCompactionLocked()  // fails waiting compactRange calls
    }

    func readOnlyError() -> StrataError {
        StrataError(.readOnly, "writes are stopped after an earlier failure: \(bgError?.description ?? "unknown")")
    }

    @inline(__always)
    func checkOpen() throws {
        if closedFlag.load(ordering: .relaxed) { throw StrataError(.closed, "database at \(path) is closed") }
    }

    // MARK: files

    /// Deletes files nothing refers to: logs older than the live log,
    /// tables no live version lists (see `LiveVersions`: old versions held
    /// by iterators and super versions keep their files) and no flush or
    /// compaction is writing, temp files, old manifests. Caller holds `mu`
    /// (VersionSet writes temp files and manifests only under it).
    func deleteObsoleteFiles() {
        guard let names = try? fs.listDirectory(at: path) else { return }
        let live = versions.liveFileNumbers()
        let minLog = min(versions.minLogNumber, logNumber)
        for name in names {
            guard let kind = DBPaths.parse(name) else { continue }
            var remove = false
            switch kind {
            case .log(let n): remove = n < minLog
            case .table(let n):
                remove = !live.contains(n) && !compactions.isPending(n)
                if remove {
                    tableCache.evict(n)
                    blockCache?.erase(fileNumber: n)
                }
            case .temp: remove = true
            case .manifest(let n): remove = n != versions.manifestFileNumber
            case .current, .lock: remove = false
            }
            if remove {
                do {
                    try fs.removeFile(at: DBPaths.join(path, name))
                } catch {
                    logger.warning("strata: could not delete obsolete file \(name): \(error)")
                }
            }
        }
    }

    /// Creates a new log file and makes its directory entry durable.
    func createLog(number: UInt64) throws -> WALHandle {
        let p = DBPaths.log(path, number)
        let file = try fs.createFile(at: p)
        try fs.syncDirectory(at: path)
        return WALHandle(writer: LogWriter(file: file), number: number, path: p, statistics: statistics)
    }

    // MARK: close

    func close() throws {
        mu.lock()
        if closing {
            mu.unlock()
            return
        }
        closing = true
        // Let queued writes finish; new ones are refused from now on.
        while leaderActive || !writers.isEmpty { mu.wait() }
        // Data that never reached the log is flushed so a clean close keeps it.
        if (unloggedWrites || immHasUnloggedWrites) && bgError == nil {
            leaderActive = true
            do { try makeRoomForWrite(force: true) } catch {}
            leaderActive = false
        }
        while imm != nil && bgError == nil { mu.wait() }
        shuttingDown = true
        compactions.stopping.store(true, ordering: .relaxed)
        mu.broadcast()
        wakeCompactionLocked()
        mu.unlock()

        commitParker.unpark()
        commitExited.park()
        flushExited.park()
        compactions.exited.park()
        syncer.stop()
        closedFlag.store(true, ordering: .releasing)
        statistics.metrics?.stop(statistics: statistics)
        statistics.detachCaches()

        var firstError: StrataError?
        mu.lock()
        do { try wal?.close() } catch let e as StrataError { firstError = e } catch {}
        wal = nil
        mu.unlock()
        versions.close()
        dbLock?.unlock()
        dbLock = nil
        if let e = firstError { throw e }
    }
}
