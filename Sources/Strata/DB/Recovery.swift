/// Opening a database: lock, read CURRENT and the MANIFEST, restore the
/// column families, replay the logs the MANIFEST does not cover (each
/// record's per-family parts only into families whose log number says they
/// still need that log), write what they held to tables, start a fresh log,
/// record it all with one edit per family, and delete files nothing refers to.
extension DBCore {
    static func open(path: String, options: Options) throws -> DBCore {
        if options.readOnly { return try openReadOnly(path: path, options: options) }
        let fs = options.fileSystem
        if !fs.isDirectory(at: path) {
            if fs.fileExists(at: path) {
                throw StrataError(.invalidArgument, "\(path) exists and is not a directory")
            }
            guard options.createIfMissing else {
                throw StrataError(.notFound, "no database at \(path) (createIfMissing is off)")
            }
            try fs.createDirectory(at: path)
        }
        try options.validateComparators()
        let lock = try fs.lockFile(at: DBPaths.lock(path))
        let core = DBCore(path: path, options: options, lock: lock)
        do {
            try core.recover()
        } catch {
            lock.unlock()
            throw error
        }
        core.startBackgroundThreads()
        return core
    }

    private func recover() throws {
        let started = ContinuousClock.now
        var replayedBatches = 0
        let names = try fs.listDirectory(at: path)
        if !names.contains("CURRENT") {
            let ours = names.filter { n in
                guard let k = DBPaths.parse(n) else { return false }
                return k != .lock
            }
            if !ours.isEmpty {
                throw StrataError(.corruption, "\(DBPaths.current(path)) is missing but the directory holds database files (\(ours.prefix(3).joined(separator: ", ")))")
            }
            let foreign = names.filter { DBPaths.parse($0) == nil }
            if !foreign.isEmpty {
                throw StrataError(.invalidArgument, "\(path) is not a Strata database: it holds other files (\(foreign.prefix(3).joined(separator: ", ")))")
            }
            guard options.createIfMissing else {
                throw StrataError(.notFound, "no database at \(path) (createIfMissing is off)")
            }
            try versions.create()
            logger.info("strata: created database", metadata: ["path": "\(path)"])
        } else {
            if options.errorIfExists {
                throw StrataError(.invalidArgument, "a database already exists at \(path) (errorIfExists is on)")
            }
            try versions.recover()
        }

        restoreFamilies()
        let families = familyStates

        var maxSequence = versions.lastSequence
        // One edit per family, each carrying the family's new log number, so
        // any prefix of them that survives a crash is consistent.
        var edits: [UInt32: VersionEdit] = [:]
        for f in families {
            var e = VersionEdit()
            e.columnFamily = f.id
            edits[f.id] = e
        }
        let minLog = versions.minLogNumber
        let logs = names.compactMap { n -> UInt64? in
            if case .log(let num) = DBPaths.parse(n), num >= minLog { return num }
            return nil
        }.sorted()
        for n in logs { versions.markFileNumberUsed(n) }

        var memtables: [UInt32: Memtable] = [:]
        for f in families { memtables[f.id] = f.makeMemtable() }
        // A family's records in a log below its log number are already in
        // its tables; records of dropped families are skipped (ids are never
        // reused, so such records can only belong to the dropped family).
        func router(forLog number: UInt64) -> ActiveMemtables {
            var others: [UInt32: Memtable] = [:]
            for f in families where f.id != 0 && number >= versions.logNumber(f.id) { others[f.id] = memtables[f.id] }
            return ActiveMemtables(defaultMemtable: number >= versions.logNumber(0) ? memtables[0] : nil, others: others)
        }
        var stop = false
        for number in logs where !stop {
            let logPath = DBPaths.log(path, number)
            let file = try fs.openForReading(at: logPath)
            defer { file.close() }
            let reader = LogReader(file: file, path: logPath, mode: options.walRecovery)
            logger.info("strata: replaying log", metadata: ["log": "\(number)", "path": "\(logPath)"])
            var into = router(forLog: number)
            records: while let record = try reader.next() {
                let batchSequence: SequenceNumber
                do {
                    let batch = try WriteBatch(decoding: record)
                    batchSequence = batch.sequence
                    if batch.count > 0 {
                        replayedBatches += 1
                        try record.withUnsafeBytes { try insert(batchBytes: $0, into: into) }
                        maxSequence = max(maxSequence, batchSequence + UInt64(batch.count) - 1)
                    }
                } catch let e as StrataError {
                    // The log frame was intact but its batch is not: treat it
                    // as damage under the configured recovery mode.
                    switch options.walRecovery {
                    case .skipAnyCorruptedRecord:
                        logger.warning("strata: skipping damaged batch in \(logPath): \(e)")
                        continue
                    case .pointInTime:
                        logger.warning("strata: stopping log replay at a damaged batch in \(logPath): \(e)")
                        stop = true
                        break records
                    case .absoluteConsistency, .tolerateCorruptedTail:
                        throw StrataError(.corruption, "\(logPath): \(e.message)")
                    }
                }
                // A whole batch is in the memtables before any of them is
                // written out, and nothing is recorded until the end.
                for f in families {
                    guard let m = memtables[f.id], m.approximateMemoryUsage >= f.options.writeBufferSize else { continue }
                    if let meta = try writeLevel0Table(m, number: versions.newFileNumber(), options: f.tableOptions) {
                        edits[f.id]?.addFile(level: 0, meta)
                    }
                    memtables[f.id] = f.makeMemtable()
                    into = router(forLog: number)
                }
            }
            for report in reader.damageReports {
                logger.warning("strata: log damage tolerated during recovery: \(report)")
            }
            if reader.stoppedAtDamage {
                logger.warning("strata: replay stopped at damage in \(logPath); later records and logs are dropped (pointInTime)")
                stop = true
            }
        }
        for f in families {
            if let m = memtables[f.id], let meta = try writeLevel0Table(m, number: versions.newFileNumber(), options: f.tableOptions) {
                edits[f.id]?.addFile(level: 0, meta)
            }
        }

        let newLog = versions.newFileNumber()
        wal = try createLog(number: newLog)
        logNumber = newLog
        versions.lastSequence = maxSequence
        lastSequence.store(maxSequence, ordering: .releasing)
        try versions.logAndApply(families.map { f in
            var e = edits[f.id]!
            e.logNumber = newLog
            return e
        })
        for f in families { publishSuperVersion(f) }
        deleteObsoleteFiles()
        logger.info("strata: opened database", metadata: [
            "path": "\(path)", "logs-replayed": "\(logs.count)", "batches-replayed": "\(replayedBatches)",
            "tables-written": "\(edits.values.reduce(0) { $0 + $1.newFiles.count })", "column-families": "\(families.count)", "last-sequence": "\(maxSequence)",
            "duration-ms": "\((ContinuousClock.now - started).clampedNanoseconds / 1_000_000)",
        ])
    }

    /// Creates the state of every family the MANIFEST lists besides
    /// "default", with the options recorded for it.
    func restoreFamilies() {
        for (id, name) in versions.columnFamilies where id != 0 {
            var options = versions.familyOptions(id) ?? ColumnFamilyOptions()
            options.comparator = versions.comparator(id)
            let state = ColumnFamilyState(name: name, id: id, options: options, databaseOptions: self.options, owner: identity)
            familyTable.withLock { $0[id] = ColumnFamily(state: state) }
        }
        rebuildActiveMemtablesLocked()
    }
}
