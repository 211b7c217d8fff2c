/// The compaction threads and `compactRange`.
///
/// Protocol: a thread picks work under `mu`, runs the job with `mu`
/// released (`held.unlocked`), and installs the edit under `mu` (`versions.logAndApply`,
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
    /// Wakes the compaction threads.
    func wakeCompaction(_ held: borrowing MonitorHeld) {
        compactions.wakeup.signal()  // a broadcast: every idle thread looks again
    }

    /// Refreshes the write-stall inputs from the current versions: the
    /// largest level 0 of any family, the sum of their pending bytes.
    func refreshCompactionPressure(_ held: borrowing MonitorHeld) {
        var level0Files = 0
        var pending: UInt64 = 0
        for f in families(held).members {
            let v = versions.current(f.id)
            level0Files = max(level0Files, v.files[0].count)
            pending += f.picker.pendingCompactionBytes(v)
        }
        compactions.update(held) { $0.pressure = CompactionPressure(level0Files: level0Files, pendingBytes: pending) }
    }

    func compactionThreadMain() {
        mu.withHeld { held in
            let s = guarded(held)
            while !s.shuttingDown {
                if s.bgError == nil, let work = nextCompaction(held) {
                    runCompaction(work.compaction, family: work.family, manual: work.manual, more: work.more, held)
                    // `work` is gone here, so the input version may now be unreferenced.
                    deleteObsoleteFiles(held)
                    continue
                }
                if let e = s.bgError { failManualRequests(with: e, held) }
                if versions.liveVersions.hasReleasedVersions { deleteObsoleteFiles(held) }
                held.wait(on: compactions.wakeup, nanoseconds: 500_000_000)
            }
            failManualRequests(with: StrataError(.closed, "database at \(path) is closed"), held)
        }
        compactions.exited.unpark()
    }

    private func failManualRequests(with e: StrataError, _ held: borrowing MonitorHeld) {
        let queue = compactions.update(held) { g in
            defer { g.manualQueue.removeAll() }
            return g.manualQueue
        }
        guard !queue.isEmpty else { return }
        for m in queue {
            m.error = e
            m.done = true
        }
        held.broadcast()
    }

    /// The automatic compaction of the family most in need that does not
    /// conflict with a running job: families by descending highest score
    /// (>= 1), each family's levels by descending score. With `level0Only`,
    /// only level-0 compactions of families whose level 0 slows writers down.
    private func automaticCompaction(level0Only: Bool, _ held: borrowing MonitorHeld) -> (Compaction, ColumnFamilyState)? {
        var candidates: [(FamilySet.Member, Double)] = []
        for f in families(held).members {
            let v = versions.current(f.id)
            if level0Only && v.files[0].count < options.level0SlowdownWritesTrigger { continue }
            guard let score = f.picker.scores(v).max(), score >= 1 else { continue }
            candidates.append((f, score))
        }
        candidates.sort { $0.1 > $1.1 }
        let jobs = compactions.state(held).jobs
        for (f, _) in candidates {
            let c = f.picker.pickAutomatic(versions.current(f.id)) { c in
                (level0Only && c.level != 0) || jobs.conflicts(c, family: f.id)
            }
            if let c { return (c, f.state) }
        }
        return nil
    }

    /// The next compaction: the front manual request's next step, else the
    /// highest-scoring level of the family most in need. While a manual
    /// request runs, automatic work is limited to level 0 when writers
    /// would otherwise slow down. A manual step that conflicts with a
    /// running job is not taken: the threads wait for that job to finish
    /// (its install wakes them) and try again.
    private func nextCompaction(_ held: borrowing MonitorHeld) -> (compaction: Compaction, family: ColumnFamilyState, manual: ManualCompaction?, more: Bool)? {
        while let m = compactions.state(held).manualQueue.first, m.family.dropped.load(ordering: .acquiring) {
            finishManual(m, error: StrataError(.invalidArgument, "column family \"\(m.family.name)\" was dropped during compactRange"), held)
        }
        if let m = compactions.state(held).manualQueue.first {
            if let (c, f) = automaticCompaction(level0Only: true, held) {
                return (c, f, nil, false)
            }
            // Steps of one request run one after another: each starts where the last ended.
            if m.stepRunning { return nil }
            let family = m.family
            // Not dropped (checked above, under `mu`), so still in the set.
            guard let picker = families(held).member(family.id)?.picker else {
                preconditionFailure("column family \(family.id) is not dropped but not in the family set")
            }
            let v = versions.current(family.id)
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
                    if compactions.state(held).jobs.conflicts(c, family: family.id) { return nil }
                    return (c, family, m, more)
                }
                m.level = level + 1
                m.resumeFrom = nil
            }
            if !m.compactedIntoTarget {
                m.inPlacePass = true
                if let (c, more) = picker.pickManual(v, level: m.targetLevel, begin: m.resumeFrom ?? m.begin, end: m.end,
                                                     maxInputBytes: maxInput, inPlace: true, resumeAfter: m.resumeFrom) {
                    if compactions.state(held).jobs.conflicts(c, family: family.id) { return nil }
                    return (c, family, m, more)
                }
            }
            finishManual(m, error: nil, held)
        }
        return automaticCompaction(level0Only: false, held).map { ($0.0, $0.1, nil, false) }
    }

    private func finishManual(_ m: ManualCompaction, error: StrataError?, _ held: borrowing MonitorHeld) {
        m.error = error
        m.done = true
        compactions.update(held) { $0.manualQueue.removeAll { $0 === m } }
        held.broadcast()
    }

    /// Runs `c` with `mu` released and installs its result.
    private func runCompaction(_ c: Compaction, family: ColumnFamilyState, manual: ManualCompaction?, more: Bool,
                               _ held: borrowing MonitorHeld) {
        let job = CompactionJob(compaction: c, snapshots: snapshots.sequences, environment: CompactionJob.Environment(
            directory: path, fileSystem: fs, tableCache: tableCache, tableOptions: family.tableOptions,
            newOutputNumber: { [unowned self] in
                let n = self.versions.newFileNumber()
                self.compactions.protect(n)
                return n
            },
            shouldStop: { [unowned self] in self.compactions.stopping.load(ordering: .relaxed) }))
        let jobID = compactions.update(held) { $0.jobs.start(c, family: family.id) }
        manual?.stepRunning = true
        let start = ContinuousClock.now
        let result = held.unlocked { () -> Result<VersionEdit, StrataError> in
            do {
                return .success(try job.run())
            } catch {
                return .failure(asStrataError(error))
            }
        }
        compactions.update(held) { $0.jobs.finish(jobID) }
        manual?.stepRunning = false
        // Threads waiting for this job's files or range may go on.
        defer { wakeCompaction(held) }
        defer { compactions.release(job.allocatedNumbers) }
        if family.dropped.load(ordering: .acquiring) {
            // Dropped meanwhile: the outputs are orphans (deleted by the
            // caller's sweep once released), and a queued compactRange fails.
            if let manual { finishManual(manual, error: StrataError(.invalidArgument, "column family \"\(family.name)\" was dropped during compactRange"), held) }
            held.broadcast()
            return
        }
        switch result {
        case .success where guarded(held).bgError != nil:
            // Another job failed meanwhile: the database is read-only and
            // the MANIFEST takes no more edits; the outputs become orphans.
            if let manual { finishManual(manual, error: readOnlyError(held), held) }
        case .success(var edit):
            edit.columnFamily = family.id
            versions.lastSequence = lastSequence.load(ordering: .acquiring)
            do {
                try versions.logAndApply(edit)
            } catch {
                setBackgroundError(asStrataError(error), during: "recording a compaction in the MANIFEST", held)
                if let manual { finishManual(manual, error: readOnlyError(held), held) }
                return
            }
            publishSuperVersion(family, held)
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
                if let manual { finishManual(manual, error: StrataError(.closed, "database at \(path) is closed"), held) }
            } else {
                setBackgroundError(e, during: "compaction", held)
                if let manual { finishManual(manual, error: readOnlyError(held), held) }
            }
        }
        held.broadcast()  // writers waiting for level 0 to shrink
    }

    /// Compacts every level holding keys in [begin, end] down to the
    /// deepest such level; blocks until done. Writes go on meanwhile.
    func compactRange(begin: [UInt8]?, end: [UInt8]?, in handle: ColumnFamily?) throws {
        try checkOpen()
        let family = try resolve(handle)
        if let b = begin, let e = end, family.comparator.compare(b, e) > 0 { return }
        if memtablesOverlap(family, begin: begin, end: end) { try flush() }
        let request = ManualCompaction(family: family, begin: begin, end: end)
        try mu.withHeld { held in
            if guarded(held).closing { throw StrataError(.closed, "database at \(path) is closed") }
            if guarded(held).bgError != nil { throw readOnlyError(held) }
            if family.dropped.load(ordering: .acquiring) {
                throw StrataError(.invalidArgument, "column family \"\(family.name)\" (id \(family.id)) has been dropped")
            }
            compactions.update(held) { $0.manualQueue.append(request) }
            wakeCompaction(held)
            while !request.done { held.wait() }
            if let e = request.error { throw e }
            // The compaction threads sweep with `mu` released, so this caller
            // could otherwise return before the inputs it made obsolete are
            // unlinked; sweeping here makes disk usage settle before return.
            deleteObsoleteFiles(held)
        }
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
        return mu.withHeld { held in
            while true {
                let s = guarded(held)
                if s.bgError != nil || s.shuttingDown { return true }
                let compaction = compactions.state(held)
                let busy = s.flushPending || compaction.jobs.running > 0 || !compaction.manualQueue.isEmpty
                    || families(held).members.contains { f in f.picker.scores(versions.current(f.id)).contains { $0 >= 1 } }
                if !busy { return true }
                if ContinuousClock.now >= deadline { return false }
                wakeCompaction(held)
                held.wait(nanoseconds: 10_000_000)
            }
        }
    }
}
