/// Opening a database: lock, read CURRENT and the MANIFEST, replay the logs
/// the MANIFEST does not cover, write what they held to a table, start a
/// fresh log, and delete files nothing refers to.
extension DBCore {
    static func open(path: String, options: Options) throws -> DBCore {
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

        var maxSequence = versions.lastSequence
        var edit = VersionEdit()
        let minLog = versions.minLogNumber
        let logs = names.compactMap { n -> UInt64? in
            if case .log(let num) = DBPaths.parse(n), num >= minLog { return num }
            return nil
        }.sorted()
        for n in logs { versions.markFileNumberUsed(n) }

        var memtable = Memtable()
        var stop = false
        for number in logs where !stop {
            let logPath = DBPaths.log(path, number)
            let file = try fs.openForReading(at: logPath)
            defer { file.close() }
            let reader = LogReader(file: file, path: logPath, mode: options.walRecovery)
            logger.info("strata: replaying log", metadata: ["log": "\(number)", "path": "\(logPath)"])
            records: while let record = try reader.next() {
                let batchSequence: SequenceNumber
                do {
                    let batch = try WriteBatch(decoding: record)
                    batchSequence = batch.sequence
                    if batch.count > 0 {
                        replayedBatches += 1
                        try record.withUnsafeBytes { try insert(batchBytes: $0, into: memtable) }
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
                if memtable.approximateMemoryUsage >= options.writeBufferSize {
                    if let meta = try writeLevel0Table(memtable, number: versions.newFileNumber()) {
                        edit.addFile(level: 0, meta)
                    }
                    memtable = Memtable()
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
        if let meta = try writeLevel0Table(memtable, number: versions.newFileNumber()) {
            edit.addFile(level: 0, meta)
        }

        let newLog = versions.newFileNumber()
        wal = try createLog(number: newLog)
        logNumber = newLog
        edit.logNumber = newLog
        versions.lastSequence = maxSequence
        lastSequence.store(maxSequence, ordering: .releasing)
        try versions.logAndApply(edit)
        publishSuperVersion()
        deleteObsoleteFiles()
        logger.info("strata: opened database", metadata: [
            "path": "\(path)", "logs-replayed": "\(logs.count)", "batches-replayed": "\(replayedBatches)",
            "tables-written": "\(edit.newFiles.count)", "last-sequence": "\(maxSequence)",
            "duration-ms": "\((ContinuousClock.now - started).clampedNanoseconds / 1_000_000)",
        ])
    }
}
