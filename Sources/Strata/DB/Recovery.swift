/// Opening a database: validate the options, lock, read CURRENT and the
/// MANIFEST, restore the column families, replay the logs the MANIFEST does
/// not cover (`LogReplay`), start a fresh log, record it all with one edit
/// per family, and delete files nothing refers to.
extension DBCore {
    static func open(path: String, options requested: Options) throws -> DBCore {
        // Every option checked and clamped once; the engine sees only these.
        let options = try requested.validated()
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

    /// Recovery in steps: the MANIFEST (created or read), the families it
    /// lists, the logs it does not cover replayed into fresh memtables
    /// (`LogReplay`), then everything recorded at once with a fresh log.
    private func recover() throws {
        let started = ContinuousClock.now
        let names = try fs.listDirectory(at: path)
        try loadOrCreateManifest(names)
        let states = restoreFamilies()
        var replay = LogReplay(core: self, families: states)
        let logs = logsToReplay(names)
        for number in logs {
            if try !replay.replay(log: number) { break }
        }
        try replay.flushAll()
        try install(replay, states)
        logger.info("strata: opened database", metadata: [
            "path": "\(path)", "logs-replayed": "\(logs.count)", "batches-replayed": "\(replay.batches)",
            "tables-written": "\(replay.tablesWritten)", "column-families": "\(states.count)",
            "last-sequence": "\(replay.maxSequence)",
            "duration-ms": "\((ContinuousClock.now - started).clampedNanoseconds / 1_000_000)",
        ])
    }

    /// Step 1: a directory without CURRENT is a new database (if it holds
    /// nothing else and `createIfMissing` allows), otherwise CURRENT and the
    /// MANIFEST it names are read.
    private func loadOrCreateManifest(_ names: [String]) throws {
        guard names.contains("CURRENT") else {
            let ours = names.filter { n in
                guard let k = DBPaths.parse(n) else { return false }
                return k != .lock
            }
            let interrupted = !ours.isEmpty && Self.isInterruptedCreation(ours)
            if interrupted && !options.createIfMissing {
                throw StrataError(.notFound, "no database at \(path): only an interrupted creation's files (\(ours.sorted().joined(separator: ", "))), and createIfMissing is off")
            }
            if !ours.isEmpty && !interrupted {
                throw StrataError(.corruption, "\(DBPaths.current(path)) is missing but the directory holds database files (\(ours.prefix(3).joined(separator: ", ")))")
            }
            let foreign = names.filter { DBPaths.parse($0) == nil }
            if !foreign.isEmpty {
                throw StrataError(.invalidArgument, "\(path) is not a Strata database: it holds other files (\(foreign.prefix(3).joined(separator: ", ")))")
            }
            guard options.createIfMissing else {
                throw StrataError(.notFound, "no database at \(path) (createIfMissing is off)")
            }
            if interrupted {
                logger.warning("strata: removing what an interrupted creation left, then creating the database afresh", metadata: [
                    "path": "\(path)", "files": "\(ours.sorted().joined(separator: ", "))",
                ])
                for name in ours { try fs.removeFile(at: DBPaths.join(path, name)) }
                try fs.syncDirectory(at: path)
            }
            try versions.create()
            logger.info("strata: created database", metadata: ["path": "\(path)"])
            return
        }
        if options.errorIfExists {
            throw StrataError(.invalidArgument, "a database already exists at \(path) (errorIfExists is on)")
        }
        try versions.recover()
    }

    /// Whether the database files of a directory without CURRENT are what a
    /// creation interrupted before its CURRENT rename leaves: MANIFEST-000001
    /// (perhaps torn) and the temporary file CURRENT is written through,
    /// nothing else. The first log is created only after CURRENT, and every
    /// later MANIFEST is numbered above 1, so a database that was ever
    /// opened holds a log or a table besides: no write was ever
    /// acknowledged here, and creating the database afresh loses nothing.
    static func isInterruptedCreation(_ names: [String]) -> Bool {
        names.allSatisfy { n in
            switch DBPaths.parse(n) {
            case .manifest(1), .temp: return true
            default: return false
            }
        }
    }

    /// Step 2: the logs some family still needs (at or above the smallest
    /// log number), oldest first; their numbers are never allocated again.
    private func logsToReplay(_ names: [String]) -> [UInt64] {
        let minLog = versions.minLogNumber
        let logs = names.compactMap { n -> UInt64? in
            if case .log(let num) = DBPaths.parse(n), num >= minLog { return num }
            return nil
        }.sorted()
        for n in logs { versions.markFileNumberUsed(n) }
        return logs
    }

    /// Step 4: starts a fresh log and records the replay's tables with one
    /// edit per family, each carrying the new log as the family's log
    /// number, so any prefix of them that survives a crash is consistent.
    /// Then publishes the families and deletes what nothing refers to.
    ///
    /// No other thread runs yet, so the MANIFEST write needs no `mu`; it is
    /// taken (uncontended) where the functions ask for the proof, and the
    /// sweep lists and unlinks with it released, as at any other time.
    private func install(_ replay: LogReplay, _ states: [ColumnFamilyState]) throws {
        let newLog = versions.newFileNumber()
        let log = try createLog(number: newLog)
        mu.withHeld { guarded($0).switchLog(to: log) }
        versions.lastSequence = replay.maxSequence
        lastSequence.store(replay.maxSequence, ordering: .releasing)
        try versions.logAndApply(states.map { f in
            var e = replay.edits[f.id]!
            e.logNumber = newLog
            return e
        })
        mu.withHeld { held in
            for f in states { publishSuperVersion(f, held) }
            deleteObsoleteFiles(held)
        }
    }

    /// Adds every family the MANIFEST lists besides "default" to the family
    /// table and the family set, with the options recorded for it. Returns
    /// the live families' states, by id. (Recovery and the read-only open
    /// run it before any other thread exists; `mu` is taken for the proof.)
    func restoreFamilies() -> [ColumnFamilyState] {
        mu.withHeld { held in
            for (id, name) in versions.columnFamilies where id != 0 {
                var options = versions.familyOptions(id) ?? ColumnFamilyOptions()
                options.comparator = versions.comparator(id)
                addFamily(ColumnFamilyState(name: name, id: id, options: options, databaseOptions: self.options, owner: identity), held)
            }
            return families(held).states
        }
    }
}
