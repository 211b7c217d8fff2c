/// Step 3 of recovery: replaying the logs the MANIFEST does not cover into
/// fresh memtables, one per family.
///
/// Each record's per-family parts go only into families whose log number
/// says they still need that log: a family's records in a log below its log
/// number are already in its tables; records of dropped families are
/// skipped (ids are never reused, so such records can only belong to the
/// dropped family). A memtable that fills up is written to a level-0 table
/// between batches (a whole batch is in the memtables before any of them is
/// written out); nothing is recorded in the MANIFEST until `DBCore.install`.
///
/// Damage follows `Options.walRecovery` through the one policy,
/// `WALRecoveryMode.action(isTornTail:)`: `LogReader` applies it to damaged
/// frames, `replay` to intact frames whose batch does not decode.
struct LogReplay {
    private unowned let core: DBCore
    private let families: [ColumnFamilyState]
    private var memtables: [UInt32: Memtable] = [:]
    /// One edit per family: the level-0 tables replay wrote.
    private(set) var edits: [UInt32: VersionEdit] = [:]
    /// The newest sequence number replayed (or the MANIFEST's).
    private(set) var maxSequence: SequenceNumber
    /// Non-empty batches replayed.
    private(set) var batches = 0
    /// Damage stopped replay: later records and logs are dropped.
    private(set) var stopped = false

    init(core: DBCore, families: [ColumnFamilyState]) {
        self.core = core
        self.families = families
        self.maxSequence = core.versions.lastSequence
        for f in families {
            memtables[f.id] = f.makeMemtable()
            var e = VersionEdit()
            e.columnFamily = f.id
            edits[f.id] = e
        }
    }

    /// Tables written so far.
    var tablesWritten: Int { edits.values.reduce(0) { $0 + $1.newFiles.count } }

    /// Where records of log `number` go: the families that still need it.
    private func router(forLog number: UInt64) -> ActiveMemtables {
        let versions = core.versions
        var others: [UInt32: Memtable] = [:]
        for f in families where f.id != 0 && number >= versions.logNumber(f.id) { others[f.id] = memtables[f.id] }
        return ActiveMemtables(defaultMemtable: number >= versions.logNumber(0) ? memtables[0] : nil, others: others)
    }

    /// Replays log `number`. Returns false when damage stopped replay (no
    /// later log may be replayed); throws when the recovery mode says the
    /// damage is fatal.
    mutating func replay(log number: UInt64) throws -> Bool {
        let logPath = DBPaths.log(core.path, number)
        let file = try core.fs.openForReading(at: logPath)
        defer { file.close() }
        let mode = core.options.walRecovery
        let reader = LogReader(file: file, path: logPath, mode: mode)
        core.logger.info("strata: replaying log", metadata: ["log": "\(number)", "path": "\(logPath)"])
        var into = router(forLog: number)
        records: while let record = try reader.next() {
            do {
                let batch = try WriteBatch(decoding: record)
                if batch.count > 0 {
                    batches += 1
                    try record.withUnsafeBytes { try core.insert(batchBytes: $0, into: into) }
                    maxSequence = max(maxSequence, batch.sequence + UInt64(batch.count) - 1)
                }
            } catch let e as StrataError {
                switch mode.action(isTornTail: false) {
                case .skip:
                    core.logger.warning("strata: skipping damaged batch in \(logPath): \(e)")
                    continue records
                case .stop:
                    core.logger.warning("strata: stopping log replay at a damaged batch in \(logPath): \(e)")
                    stopped = true
                    break records
                case .fail:
                    throw StrataError(.corruption, "\(logPath): \(e.message)")
                }
            }
            if try flushFullMemtables() { into = router(forLog: number) }
        }
        for report in reader.damageReports {
            core.logger.warning("strata: log damage tolerated during recovery: \(report)")
        }
        if reader.stoppedAtDamage {
            core.logger.warning("strata: replay stopped at damage in \(logPath); later records and logs are dropped (\(mode))")
            stopped = true
        }
        return !stopped
    }

    /// Writes each memtable that reached its family's write buffer size to
    /// a level-0 table and starts a fresh one. Returns whether any was.
    private mutating func flushFullMemtables() throws -> Bool {
        var any = false
        for f in families {
            guard let m = memtables[f.id], m.approximateMemoryUsage >= f.options.writeBufferSize else { continue }
            try writeTable(m, of: f)
            memtables[f.id] = f.makeMemtable()
            any = true
        }
        return any
    }

    /// Writes every non-empty memtable to a level-0 table (end of replay).
    mutating func flushAll() throws {
        for f in families {
            if let m = memtables[f.id] { try writeTable(m, of: f) }
        }
    }

    private mutating func writeTable(_ m: Memtable, of f: ColumnFamilyState) throws {
        if let meta = try core.writeLevel0Table(m, number: core.versions.newFileNumber(), options: f.tableOptions) {
            edits[f.id]?.addFile(level: 0, meta)
        }
    }
}
