/// The compaction threads and `compactRange`.
///
/// Protocol: a thread picks work under `mu`, runs the job with `mu`
/// released, and installs the edit under `mu` (`versions.logAndApply`,
/// then a new super version). With `maxBackgroundCompactions` above 1
/// several threads run jobs at once; `CompactionControl` keeps them
/// disjoint (no shared input file, no overlapping output range at one
/// level, one level-0 job per family), so each job's edit still applies to
/// whatever version is current when it finishes. Flushes add level-0 files
/// meanwhile, which is harmless because a compaction's level-0 inputs never
/// overlap a level-0 file it left behind. A deletion or range tombstone a
/// job drops stays dropped: another job can only move a key's entries down
/// if it holds the file they are in, and every file overlapping this job's
/// range at its levels is this job's input. Threads wake after each flush,
/// each compaction and each `compactRange` request, and every half second
/// to delete files that old versions (held by iterators) no longer pin.
extension DBCore {
    /// Wakes the compaction threads. Caller holds `mu`.
    func wakeCompactionLocked() {
        compactions.wakeup.signal()  // a broadcast: every idle thread looks again
    }

    /// Refreshes the write-stall inputs from the current versions: the
    /// largest level 0 of any family, the sum of their pending bytes.
    /// Caller holds `mu`.
    func refreshCompactionPressureLocked() {
        var level0Files = 0
        var pending: UInt64 = 0
        for f in familyStates {
            let v = versions.current(f.id)
            level0Files = max(level0Files, v.files[0].count)
            pending += f.picker.pendingCompactionBytes(v)
        }
        compactions.level0Files = level0Files
        compactions.pendingCompactionBytes = pending
    }

    func compactionThreadMain() {
        mu.lock()
        while !shuttingDown {
            if bgError == nil, let work = nextCompactionLocked() {
                runCompactionLocked(work.compaction, family: work.family, manual: work.manual, more: work.more)
                // `work` is gone here, so the input version may now be unreferenced.
                deleteObsoleteFilesLocked()
                continue
            }
            if let e = bgError { failManualRequestsLocked(with: e) }
            if versions.liveVersions.hasReleasedVersions { deleteObsoleteFilesLocked() }
            mu.wait(on: compactions.wakeup, nanoseconds: 500_000_000)
        }
        failManualRequestsLocked(with: StrataError(.closed, "database at \(path) is closed"))
        mu.unlock()
        compactions.exited.unpark()
    }

    private func failManualRequestsLocked(with e: StrataError) {
        guard !compactions.manualQueue.isEmpty else { return }
        for m in compactions.manualQueue {
            m.error = e
            m.done = true
        }
        compactions.manualQueue.removeAll()
        mu.broadcast()
    }

    /// The automatic compaction of the family most in need that does not
    /// conflict with a running job: families by descending highest score
    /// (>= 1), each family's levels by descending score. With `level0Only`,
    /// only level-0 compactions of families whose level 0 slows writers down.
    private func automaticCompactionLocked(level0Only: Bool) -> (Compaction, ColumnFamilyState)? {
        var candidates: [(ColumnFamilyState, Double)] = []
        for f in familyStates {
            let v = versions.current(f.id)
            if level0Only && v.files[0].count < options.level0SlowdownWritesTrigger { continue }
            guard let score = f.picker.scores(v).max(), score >= 1 else { continue }
            candidates.append((f, score))
        }
        candidates.sort { $0.1 > $1.1 }
        for (f, _) in candidates {
            let c = f.picker.pickAutomatic(versions.current(f.id)) { [compactions] c in
                (level0Only && c.level != 0) || compactions.conflicts(c, family: f.id)
            }
            if let c { return (c, f) }
        }
        return nil
    }

    /// The next compaction: the front manual request's next step, else the
    /// highest-scoring level of the family most in need. While a manual
    /// request runs, automatic work is limited to level 0 when writers
    /// would otherwise slow down. A manual step that conflicts with a
    /// running job is not taken: the threads wait for that job to finish
    /// (its install wakes them) and try again.
    private func nextCompactionLocked() -> (compaction: Compaction, family: ColumnFamilyState, manual: ManualCompaction?, more: Bool)? {
        while let m = compactions.manualQueue.first, m.family.dropped.load(ordering: .acquiring) {
            finishManualLocked(m, error: StrataError(.invalidArgument, "column family \"\(m.family.name)\" was dropped during compactRange"))
        }
        if let m = compactions.manualQueue.first {
            if let (c, f) = automaticCompactionLocked(level0Only: true) {
                return (c, f, nil, false)
            }
            // Steps of one request run one after another: each starts where the last ended.
            if m.stepRunning { return nil }
            let family = m.family
            let v = versions.current(family.id)
            let picker = family.picker
            if m.level == nil {
                // Compact down to the deepest level holding part of the range.
                var deepest = 0
                for level in 0..<Version.numLevels
                where !v.overlappingFiles(level: level, smallestUserKey: m.begin, largestUserKey: m.end).isEmpty {
                    deepest = level
                }
                m.targetLevel = max(1, deepest)
                m.level = 0
            }
            let maxInput = 25 * options.targetFileSizeBase
            while let level = m.level, level < m.targetLevel {
                if let (c, more) = picker.pickManual(v, level: level, begin: m.resumeFrom ?? m.begin, end: m.end, maxInputBytes: maxInput) {
                    if compactions.conflicts(c, family: family.id) { return nil }
                    return (c, family, m, more)
                }
                m.level = level + 1
                m.resumeFrom = nil
            }
            if !m.compactedIntoTarget {
                m.inPlacePass = true
                if let (c, more) = picker.pickManual(v, level: m.targetLevel, begin: m.resumeFrom ?? m.begin, end: m.end,
                                                     maxInputBytes: maxInput, inPlace: true, resumeAfter: m.resumeFrom) {
                    if compactions.conflicts(c, family: family.id) { return nil }
                    return (c, family, m, more)
                }
            }
            finishManualLocked(m, error: nil)
        }
        return automaticCompactionLocked(level0Only: false).map { ($0.0, $0.1, nil, false) }
    }

    private func finishManualLocked(_ m: ManualCompaction, error: StrataError?) {
        m.error = error
        m.done = true
        compactions.manualQueue.removeAll { $0 === m }
        mu.broadcast()
    }

    /// Runs `c` with `mu` released and installs its result. Called and
    /// returns with `mu` held.
    private func runCompactionLocked(_ c: Compaction, family: ColumnFamilyState, manual: ManualCompaction?, more: Bool) {
        let job = CompactionJob(compaction: c, snapshots: snapshots.sequences, environment: CompactionJob.Environment(
            directory: path, fileSystem: fs, tableCache: tableCache, tableOptions: family.tableOptions,
            newOutputNumber: { [unowned self] in
                let n = self.versions.newFileNumber()
                self.compactions.protect(n)
                return n
            },
            shouldStop: { [unowned self] in self.compactions.stopping.load(ordering: .relaxed) }))
        let jobID = compactions.start(c, family: family.id)
        manual?.stepRunning = true
        mu.unlock()
        let start = ContinuousClock.now
        var result: Result<VersionEdit, StrataError>
        do {
            result = .success(try job.run())
        } catch {
            result = .failure(asStrataError(error))
        }
        mu.lock()
        compactions.finish(jobID)
        manual?.stepRunning = false
        // Threads waiting for this job's files or range may go on.
        defer { wakeCompactionLocked() }
        defer { compactions.release(job.allocatedNumbers) }
        if family.dropped.load(ordering: .acquiring) {
            // Dropped meanwhile: the outputs are orphans (deleted by the
            // caller's sweep once released), and a queued compactRange fails.
            if let manual { finishManualLocked(manual, error: StrataError(.invalidArgument, "column family \"\(family.name)\" was dropped during compactRange")) }
            mu.broadcast()
            return
        }
        switch result {
        case .success where bgError != nil:
            // Another job failed meanwhile: the database is read-only and
            // the MANIFEST takes no more edits; the outputs become orphans.
            if let manual { finishManualLocked(manual, error: readOnlyError()) }
        case .success(var edit):
            edit.columnFamily = family.id
            versions.lastSequence = lastSequence.load(ordering: .acquiring)
            do {
                try versions.logAndApply(edit)
            } catch {
                setBackgroundErrorLocked(asStrataError(error), during: "recording a compaction in the MANIFEST")
                if let manual { finishManualLocked(manual, error: readOnlyError()) }
                return
            }
            publishSuperVersion(family)
            statistics.recordCompaction(bytesRead: job.bytesRead, bytesWritten: job.bytesWritten,
                                        level: c.outputLevel, duration: ContinuousClock.now - start)
            if c.isTrivialMove {
                logger.info("strata: moved \(c.inputFileCount) files of column family \(family.name) (\(c.inputBytes) bytes) from level \(c.level) to level \(c.outputLevel) without rewriting")
            } else {
                let dropped = job.droppedFiles > 0 ? ", \(job.droppedFiles) of them deleted unread under range tombstones" : ""
                logger.info("strata: compacted \(c.inputFileCount) files of column family \(family.name) (\(c.inputBytes) bytes\(dropped)) from level \(c.level) to \(job.outputs.count) files (\(job.bytesWritten) bytes) at level \(c.outputLevel) in \(ContinuousClock.now - start)")
            }
            if let manual {
                if c.outputLevel == manual.targetLevel && !manual.inPlacePass { manual.compactedIntoTarget = true }
                if manual.inPlacePass && !more { manual.compactedIntoTarget = true }  // the pass is over
                if more {
                    manual.resumeFrom = Compaction.userKeyRange(of: c.inputs[0], c.version.comparator).largest
                } else {
                    manual.level = (manual.level ?? 0) + 1
                    manual.resumeFrom = nil
                }
            }
        case .failure(let e):
            if compactions.stopping.load(ordering: .relaxed) {
                if let manual { finishManualLocked(manual, error: StrataError(.closed, "database at \(path) is closed")) }
            } else {
                setBackgroundErrorLocked(e, during: "compaction")
                if let manual { finishManualLocked(manual, error: readOnlyError()) }
            }
        }
        mu.broadcast()  // writers waiting for level 0 to shrink
    }

    /// Compacts every level holding keys in [begin, end] down to the
    /// deepest such level; blocks until done. Writes go on meanwhile.
    func compactRange(begin: [UInt8]?, end: [UInt8]?, in handle: ColumnFamily?) throws {
        try checkOpen()
        let family = try resolve(handle)
        if let b = begin, let e = end, family.comparator.compare(b, e) > 0 { return }
        if memtablesOverlap(family, begin: begin, end: end) { try flush() }
        let request = ManualCompaction(family: family, begin: begin, end: end)
        mu.lock()
        defer { mu.unlock() }
        if closing { throw StrataError(.closed, "database at \(path) is closed") }
        if bgError != nil { throw readOnlyError() }
        if family.dropped.load(ordering: .acquiring) {
            throw StrataError(.invalidArgument, "column family \"\(family.name)\" (id \(family.id)) has been dropped")
        }
        compactions.manualQueue.append(request)
        wakeCompactionLocked()
        while !request.done { mu.wait() }
        if let e = request.error { throw e }
        // The compaction threads sweep with `mu` released, so this caller
        // could otherwise return before the inputs it made obsolete are
        // unlinked; sweeping here makes disk usage settle before return.
        deleteObsoleteFilesLocked()
    }

    /// Whether `family`'s active or immutable memtable holds a key in
    /// [begin, end] (or any range tombstone).
    private func memtablesOverlap(_ family: ColumnFamilyState, begin: [UInt8]?, end: [UInt8]?) -> Bool {
        let sv = family.superVersion
        for m in [sv.mem, sv.imm] {
            guard let m, !m.isEmpty else { continue }
            // A range tombstone may cover the range whatever its point keys.
            if m.rangeTombstoneCount > 0 { return true }
            let it = m.makeIterator()
            if let begin {
                makeInternalKey(begin, maxSequenceNumber, .forSeek).withUnsafeBytes { it.seek($0) }
            } else {
                it.seekToFirst()
            }
            guard it.isValid else { continue }
            guard let end else { return true }
            if end.withUnsafeBytes({ family.comparator.compare(userKeyOf(it.key), $0) }) <= 0 { return true }
        }
        return false
    }
}

extension DBCore {
    /// Waits until no flush or compaction is running or due (every level
    /// under its target, no manual request, no memtable being flushed), or
    /// a background error stops the work. Returns false on timeout. For
    /// tests and benchmarks.
    @discardableResult
    func waitForBackgroundWork(timeout: Duration = .seconds(60)) -> Bool {
        let deadline = ContinuousClock.now + timeout
        mu.lock()
        defer { mu.unlock() }
        while true {
            if bgError != nil || shuttingDown { return true }
            let busy = flushPending || compactions.running > 0 || !compactions.manualQueue.isEmpty
                || familyStates.contains { f in f.picker.scores(versions.current(f.id)).contains { $0 >= 1 } }
            if !busy { return true }
            if ContinuousClock.now >= deadline { return false }
            wakeCompactionLocked()
            mu.wait(nanoseconds: 10_000_000)
        }
    }
}
