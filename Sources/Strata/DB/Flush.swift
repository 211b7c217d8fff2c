/// Memtable flush: the background thread that turns the immutable memtable
/// into a level-0 table file and records it in the MANIFEST.
extension DBCore {
    func flushThreadMain() {
        mu.lock()
        while true {
            if let m = imm, bgError == nil {
                let coveredLogs = logNumber  // every log below this holds only data in `m` or older
                let number = versions.newFileNumber()
                compactions.protect(number)  // not obsolete while being written
                mu.unlock()
                var result: Result<FileMetaData?, StrataError>
                do {
                    result = .success(try writeLevel0Table(m, number: number))
                } catch let e as StrataError {
                    result = .failure(e)
                } catch {
                    result = .failure(StrataError(.ioError, "\(error)"))
                }
                mu.lock()
                defer { compactions.release([number]) }
                switch result {
                case .success(let meta):
                    var edit = VersionEdit()
                    edit.logNumber = coveredLogs
                    if let meta { edit.addFile(level: 0, meta) }
                    versions.lastSequence = lastSequence.load(ordering: .acquiring)
                    do {
                        try versions.logAndApply(edit)
                        imm = nil
                        immHasUnloggedWrites = false
                        publishSuperVersion()
                        deleteObsoleteFiles()
                        wakeCompactionLocked()
                        if let meta {
                            logger.debug("strata: flushed memtable to table #\(meta.number) (\(meta.size) bytes, \(meta.numEntries) entries)")
                        }
                    } catch let e as StrataError {
                        setBackgroundErrorLocked(e, during: "recording a flush in the MANIFEST")
                    } catch {
                        setBackgroundErrorLocked(StrataError(.ioError, "\(error)"), during: "recording a flush")
                    }
                case .failure(let e):
                    try? fs.removeFile(at: DBPaths.table(path, number))
                    setBackgroundErrorLocked(e, during: "memtable flush")
                }
                mu.broadcast()
                continue
            }
            if shuttingDown { break }
            mu.wait()
        }
        mu.unlock()
        flushExited.unpark()
    }

    /// Writes every entry and range tombstone of `memtable` to table file
    /// `number`, fsyncs it and its directory. Returns nil when the memtable
    /// holds neither point entries nor (non-empty) range tombstones.
    func writeLevel0Table(_ memtable: Memtable, number: UInt64) throws -> FileMetaData? {
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

    /// Switches the memtable out (if it holds anything) and waits until it
    /// is on disk.
    func flush() throws {
        try write(WriteBatch(), options: WriteOptions(), forceSwitch: true)
        mu.lock()
        defer { mu.unlock() }
        while imm != nil && bgError == nil { mu.wait() }
        if bgError != nil { throw readOnlyError() }
    }
}
