/// Memtable flush: the background thread that turns each family's immutable
/// memtable into a level-0 table file and records it in the MANIFEST.
extension DBCore {
    /// The flush thread: flushes each family's immutable memtable (one
    /// version edit per family, carrying the log the switch started as the
    /// family's new log number), then advances the log number of families
    /// that had nothing to flush, so old logs become deletable.
    func flushThreadMain() {
        mu.withHeld { held in
            let s = guarded(held)
            while true {
                if s.bgError == nil && s.flushPending {
                    if let family = families(held).nextToFlush() {
                        flushImmutableMemtable(family, held)
                    } else if advanceFamilyLogNumbers(held) {
                        s.finishFlush()
                    }
                    held.broadcast()
                    continue
                }
                if s.shuttingDown { break }
                held.wait()
            }
        }
        flushExited.unpark()
    }

    /// Writes `member.imm` to a level-0 table (with `mu` released) and
    /// records it.
    private func flushImmutableMemtable(_ member: FamilySet.Member, _ held: borrowing MonitorHeld) {
        guard let m = member.imm else { return }
        let family = member.state
        // Every log below this holds only data of this family in `m` or older.
        let coveredLogs = member.immLogNumber
        let number = versions.newFileNumber()
        compactions.protect(number)  // not obsolete while being written
        let result = held.unlocked { () -> Result<FileMetaData?, StrataError> in
            do {
                return .success(try writeLevel0Table(m, number: number, options: family.tableOptions))
            } catch let e as StrataError {
                return .failure(e)
            } catch {
                return .failure(StrataError(.ioError, "\(error)"))
            }
        }
        defer { compactions.release([number]) }
        if family.dropped.load(ordering: .acquiring) {
            // Dropped meanwhile: the table is an orphan. Released from the
            // protected set first, so this sweep deletes it (the deferred
            // release would come only after the sweep).
            compactions.release([number])
            deleteObsoleteFiles(held)
            return
        }
        switch result {
        case .success(let meta):
            var edit = VersionEdit()
            edit.columnFamily = family.id
            edit.logNumber = coveredLogs
            if let meta { edit.addFile(level: 0, meta) }
            versions.lastSequence = lastSequence.load(ordering: .acquiring)
            do {
                try versions.logAndApply(edit)
                families(held).finishFlush(of: family.id, flushed: m)
                publishSuperVersion(family, held)
                deleteObsoleteFiles(held)
                wakeCompaction(held)
            } catch let e as StrataError {
                setBackgroundError(e, during: "recording a flush in the MANIFEST", held)
            } catch {
                setBackgroundError(StrataError(.ioError, "\(error)"), during: "recording a flush", held)
            }
        case .failure(let e):
            try? fs.removeFile(at: DBPaths.table(path, number))
            setBackgroundError(e, during: "memtable flush", held)
        }
    }

    /// Once every retired memtable is flushed, every family's unflushed data
    /// is in the live log (each switch starts a new log and retires every
    /// non-empty memtable), so any family whose recorded log number is older
    /// (it had nothing to flush) moves up to the live log; one MANIFEST sync
    /// for all of them. Returns false on failure (background error set).
    private func advanceFamilyLogNumbers(_ held: borrowing MonitorHeld) -> Bool {
        let live = guarded(held).logNumber
        var edits: [VersionEdit] = []
        for f in families(held).members where versions.logNumber(f.id) < live {
            var edit = VersionEdit()
            edit.columnFamily = f.id
            edit.logNumber = live
            edits.append(edit)
        }
        if edits.isEmpty { return true }
        versions.lastSequence = lastSequence.load(ordering: .acquiring)
        do {
            try versions.logAndApply(edits)
        } catch {
            setBackgroundError(asStrataError(error), during: "recording log numbers in the MANIFEST", held)
            return false
        }
        deleteObsoleteFiles(held)
        return true
    }

    /// Writes every entry and range tombstone of `memtable` to table file
    /// `number`, fsyncs it and its directory. Returns nil when the memtable
    /// holds neither point entries nor (non-empty) range tombstones.
    func writeLevel0Table(_ memtable: Memtable, number: UInt64, options tableOptions: TableBuilderOptions) throws -> FileMetaData? {
        if memtable.isEmpty { return nil }
        let start = ContinuousClock.now
        let tablePath = DBPaths.table(path, number)
        let file = try fs.createFile(at: tablePath)
        let builder = TableBuilder(file: file, options: tableOptions)
        let it = memtable.makeIterator()
        it.seekToFirst()
        while it.isValid {
            try builder.add(it.key, it.value)
            it.next()
        }
        for t in memtable.rangeTombstoneList() {
            try builder.addRangeTombstone(t)
        }
        if builder.recordCount == 0 {
            builder.abandon()
            try? file.close()
            try? fs.removeFile(at: tablePath)
            return nil
        }
        let props = try builder.finish()
        try file.sync()
        try file.close()
        try fs.syncDirectory(at: path)
        noteFlush(table: number, bytes: props.fileSize, entries: props.numEntries, duration: ContinuousClock.now - start)  // statistics + log hook
        return FileMetaData(number: number, size: props.fileSize, smallest: props.smallest,
                            largest: props.largest, numEntries: props.numEntries)
    }

    /// Switches every family's memtable out (those holding anything; they
    /// share the log, so they are flushed together) and waits until they are
    /// on disk.
    func flush() throws {
        try write(WriteBatch(), options: WriteOptions(), forceSwitch: true)
        try mu.withHeld { held in
            let s = guarded(held)
            while s.flushPending && s.bgError == nil { held.wait() }
            if s.bgError != nil { throw readOnlyError(held) }
            // Logs the flush retired are unlinked before this returns (the
            // flush thread's own sweep runs with `mu` released).
            deleteObsoleteFiles(held)
        }
    }
}
