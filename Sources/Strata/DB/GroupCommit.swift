import Glibc

/// The write path: group commit.
///
/// Writers queue in `writers`. The writer at the front is the leader: it
/// takes the writes queued behind it (up to a byte budget), gives them
/// consecutive sequence numbers, writes them to the log as one record,
/// fsyncs once if any of them asked for `.syncDurable`, inserts them into
/// the memtable, publishes the new last sequence and wakes the others.
/// A synchronous caller leads in its own thread; async callers are led by
/// the commit thread, so no disk wait ever blocks Swift's cooperative pool —
/// except that an async write needing no disk wait leads in its own task
/// when nothing is queued (see `writeAsync`).
extension DBCore {
    /// Checks a batch before it is queued, so that nothing invalid reaches the log.
    /// A family dropped after this check is harmless: its records are logged
    /// but inserted nowhere, and recovery skips them (ids are never reused).
    func validate(_ batch: WriteBatch) throws {
        for f in batch.families { _ = try resolve(f) }
        try batch.rep.withUnsafeBytes { (p) throws in
            var reader = WriteBatchReader(bytes: p)
            // The ids checked last, newest first (0, "default", always
            // exists). Batches that alternate between a few families (the
            // message store's go to two or three) check each id once, not
            // once per switch: the family table's lock per record was 1.7%
            // of a 64-client round trip.
            var checked: (UInt32, UInt32, UInt32, UInt32) = (0, 0, 0, 0)
            while let r = try reader.next() {
                let cf = r.columnFamily
                if cf != checked.0 && cf != checked.1 && cf != checked.2 && cf != checked.3 {
                    guard familyTable.withLock({ $0[cf] != nil }) else {
                        throw StrataError(.invalidArgument, "write batch names column family id \(cf), which does not exist (never created, or dropped)")
                    }
                    checked = (cf, checked.0, checked.1, checked.2)
                }
                if r.key.count > options.maxKeySize {
                    throw StrataError(.invalidArgument, "key of \(r.key.count) bytes exceeds maxKeySize (\(options.maxKeySize))")
                }
                if r.kind == .value && r.value.count > options.maxValueSize {
                    throw StrataError(.invalidArgument, "value of \(r.value.count) bytes exceeds maxValueSize (\(options.maxValueSize))")
                }
                if r.kind == .rangeDeletion && r.value.count > options.maxKeySize {
                    throw StrataError(.invalidArgument, "range end key of \(r.value.count) bytes exceeds maxKeySize (\(options.maxKeySize))")
                }
            }
        }
    }

    func makePendingWrite(_ batch: WriteBatch, _ options: WriteOptions, forceSwitch: Bool = false) -> (PendingWrite, Duration?) {
        let mode = options.commitMode ?? self.options.commitMode
        var window: Duration?
        if case .asyncDurable(let w) = mode { window = w }
        let w = PendingWrite(batch: batch, sync: mode == .syncDurable, logged: mode != .memoryOnly,
                             forceSwitch: forceSwitch, parker: nil)
        w.asyncWindow = window
        return (w, window)
    }

    /// Synchronous write: queue, then lead or wait.
    func write(_ batch: WriteBatch, options: WriteOptions, forceSwitch: Bool = false) throws {
        try checkOpen()
        if batch.isEmpty && !forceSwitch { return }
        if !batch.isEmpty { try validate(batch) }
        let (w, _) = makePendingWrite(batch, options, forceSwitch: forceSwitch)
        let error = try mu.withHeld { held -> StrataError? in
            let s = guarded(held)
            if s.closing { throw StrataError(.closed, "database at \(path) is closed") }
            _ = s.enqueue(w)
            while !w.done && !w.isLeader {
                if w.parker == nil { w.parker = ThreadParker() }
                let p = w.parker!
                held.unlocked { p.park() }
            }
            if !w.done { commitGroup(leader: w, held) }
            return w.error
        }
        if let error { throw error }
    }

    /// Async write. When the queue is empty and the write needs no disk
    /// wait (`.memoryOnly`, `.asyncDurable`: the log append goes to the OS,
    /// the fsync to the background syncer) and no stall or memtable switch
    /// is due, the caller's own task leads its write at once — no thread
    /// handoff, no continuation. Otherwise it queues and suspends, and the
    /// commit thread leads async writers, so no fsync or stall ever blocks
    /// a thread of Swift's cooperative pool.
    func writeAsync(_ batch: WriteBatch, options: WriteOptions) async throws {
        try checkOpen()
        if batch.isEmpty { return }
        try validate(batch)
        let (w, _) = makePendingWrite(batch, options)
        if !w.sync {
            let led = try mu.withHeld { held -> Bool in
                let s = guarded(held)
                if s.closing { throw StrataError(.closed, "database at \(path) is closed") }
                guard s.isIdle && canCommitWithoutWaiting(held) else { return false }
                _ = s.enqueue(w)  // leads: the queue was idle
                commitGroup(leader: w, held)
                if let error = w.error { throw error }
                return true
            }
            if led { return }
        }
        // Only a queued async write is marked async: the commit thread leads
        // the queue's front when it is async, and a write this task leads
        // inline (above) must not look like one, or a stale wake-up of the
        // commit thread would lead the same group a second time while this
        // task has `mu` released for the log append.
        w.isAsync = true
        try await withCheckedThrowingContinuation { (cont: CheckedContinuation<Void, any Error>) in
            let queued = mu.withHeld { held -> AsyncQueueing in
                let s = guarded(held)
                if s.closing { return .refused }
                w.continuation = cont
                return s.enqueue(w) ? .leads : .waiting
            }
            // Resumed and unparked with `mu` released.
            switch queued {
            case .refused: cont.resume(throwing: StrataError(.closed, "database at \(path) is closed"))
            case .leads: commitParker.unpark()
            case .waiting: break
            }
        }
    }

    /// The commit thread: leads groups whose front writer is async.
    func commitThreadMain() {
        while true {
            commitParker.park()
            let stop = mu.withHeld { held -> Bool in
                while let f = guarded(held).writers.first, f.isLeader, !f.done, f.isAsync {
                    commitGroup(leader: f, held)
                }
                return guarded(held).shuttingDown
            }
            if stop { break }
        }
        commitExited.unpark()
    }

    /// Commits the group led by `leader` (the queue's front). Called and
    /// returns with `mu` held; releases it (`held.unlocked`) around log and
    /// memtable work.
    ///
    /// The group is the first `groupSize` entries of the queue (the queue
    /// only grows at its back while `mu` is released, and only the leader
    /// removes entries), so a lone writer allocates no group array; the log
    /// record is built in `commitScratch`, never by stamping a caller's batch.
    func commitGroup(leader: PendingWrite, _ held: borrowing MonitorHeld) {
        let s = guarded(held)
        var error: StrataError?
        do {
            try makeRoomForWrite(force: leader.forceSwitch, held)
        } catch let e {
            error = asStrataError(e)
        }

        var groupSize = 1
        var bytes = leader.batch.byteSize
        var count = UInt64(leader.batch.count)
        var needSync = leader.sync
        var window = leader.asyncWindow
        if error == nil && !leader.forceSwitch {
            // The grouping rule (CommitGrouping, tested without threads);
            // the leader is writers[0].
            let (members, total) = CommitGrouping.group(of: s.writers)
            bytes = total
            while groupSize < members {
                let w = s.writers[groupSize]
                count += UInt64(w.batch.count)
                needSync = needSync || w.sync
                if let aw = w.asyncWindow { window = min(window ?? aw, aw) }
                groupSize += 1
            }
        }

        if error == nil && !leader.forceSwitch {
            let first = lastSequence.load(ordering: .relaxed) + 1
            let memtables = families(held).activeMemtables
            let log = s.wal
            let logged = leader.logged
            // Copied while `mu` is held (a lone writer copies nothing);
            // holding a slice of the queue instead would make every append
            // by a writer arriving meanwhile copy the whole queue.
            let group: [PendingWrite] = groupSize > 1 ? Array(s.writers[0..<groupSize]) : []
            let sequenceCount = UInt32(truncatingIfNeeded: count)
            error = held.unlocked { () -> StrataError? in
                func commit(_ record: UnsafeRawBufferPointer) throws {
                    if logged {
                        guard let log else { throw StrataError(.ioError, "no live write-ahead log") }
                        try log.append(record, sync: needSync)
                    }
                    try insert(batchBytes: record, into: memtables)
                }
                do {
                    if groupSize == 1 {
                        try commitScratch.withRecord(of: CollectionOfOne(leader.batch), bytes: bytes, sequence: first,
                                                     count: sequenceCount, commit)
                    } else {
                        try commitScratch.withRecord(of: group.lazy.map(\.batch), bytes: bytes, sequence: first,
                                                     count: sequenceCount, commit)
                    }
                } catch let e {
                    return asStrataError(e)
                }
                if logged, !needSync, let window { syncer.schedule(within: window) }
                return nil
            }
            if let e = error {
                // The log may now hold a partial record; nothing more may be
                // acknowledged until the database is reopened and recovered.
                setBackgroundError(e, during: "write-ahead log append", held)
            } else {
                lastSequence.store(first + count - 1, ordering: .releasing)
                if !logged { s.noteUnloggedWrite() }
                statistics.recordWrite(batches: groupSize, bytes: bytes, synced: needSync && logged)
            }
        }

        s.finishGroup(count: groupSize, leader: leader, error: error) { wake($0) }
        handOffLeadership(held)
    }

    /// Inserts every record of an encoded, stamped batch into its family's
    /// memtable; records of families `memtables` lacks are skipped but
    /// still take their sequence number, so sequences match the log.
    func insert(batchBytes p: UnsafeRawBufferPointer, into memtables: ActiveMemtables) throws {
        var seq = loadFixed64(p.baseAddress!)
        var reader = WriteBatchReader(bytes: p)
        while let r = try reader.next() {
            memtables.memtable(for: r.columnFamily)?.add(sequence: seq, kind: r.kind, key: r.key, value: r.value)
            seq += 1
        }
    }

    private func wake(_ w: PendingWrite) {
        if let cont = w.continuation {
            w.continuation = nil
            if let e = w.error { cont.resume(throwing: e) } else { cont.resume() }
        } else {
            w.parker?.unpark()
        }
    }

    /// Whether `makeRoomForWrite` would return at once: no background
    /// error to report, no slowdown sleep, no full memtable to switch (a
    /// switch creates a log file and syncs the directory).
    private func canCommitWithoutWaiting(_ held: borrowing MonitorHeld) -> Bool {
        guarded(held).bgError == nil && !compactions.pressure(held).slowsWrites(options)
            && !families(held).anyMemtableFull
    }

    /// Makes the next queued writer the leader.
    private func handOffLeadership(_ held: borrowing MonitorHeld) {
        let s = guarded(held)
        guard let next = s.handOffLeadership() else {
            // close() waits for an idle queue; waking everyone on every
            // commit would cost a context switch per write.
            if s.closing { held.broadcast() }
            return
        }
        if next.isAsync {
            commitParker.unpark()
        } else {
            next.parker?.unpark()
        }
    }

    /// Ensures the memtables have room, switching to a new log and new
    /// memtables when any family's memtable is full (or when `force` asks
    /// for a flush). The caller leads.
    ///
    /// All families share the log, so a switch turns every non-empty
    /// family's memtable immutable at once: afterwards no family has data
    /// only in an older log, and once the flushes are recorded every family's
    /// log number is the new log (empty families get theirs advanced too, so
    /// a quiet family never pins old logs). The next switch waits until every
    /// family's immutable memtable is flushed.
    ///
    /// Write stalls, each counted in `statistics.recordStall`:
    /// - level 0 at `level0SlowdownWritesTrigger` files, or compaction
    ///   behind by `softPendingCompactionBytesLimit`: the group sleeps 1 ms
    ///   with `mu` released (once per group), so writers slow down smoothly
    ///   and compaction gets the disk and a core;
    /// - the previous memtable still being flushed when this one is full:
    ///   wait for the flush;
    /// - level 0 at `level0StopWritesTrigger` files, or compaction behind by
    ///   `hardPendingCompactionBytesLimit`, when the memtable is full: wait
    ///   for compaction to catch up (it wakes this writer after each step).
    func makeRoomForWrite(force: Bool, _ held: borrowing MonitorHeld) throws {
        let s = guarded(held)
        var force = force
        var stallStart: ContinuousClock.Instant?
        var delayed = false
        defer {
            if let s = stallStart { noteStall(ContinuousClock.now - s, reason: "memtable flush pending") }  // statistics + log hook
        }
        while true {
            if s.bgError != nil { throw readOnlyError(held) }
            if !force && !delayed && compactions.pressure(held).slowsWrites(options) {
                delayed = true
                let start = ContinuousClock.now
                held.unlocked { _ = usleep(1000) }
                statistics.recordStall(ContinuousClock.now - start)
                continue
            }
            if !force && !families(held).anyMemtableFull { return }
            if force && families(held).allMemtablesEmpty { return }
            if s.flushPending {
                if stallStart == nil { stallStart = .now }
                held.wait()
                continue
            }
            let pressure = compactions.pressure(held)
            if pressure.stopsWrites(options) {
                if stallStart == nil {
                    stallStart = .now
                    logger.debug("strata: writes wait for compaction (\(pressure.level0Files) level-0 files, \(pressure.pendingBytes) bytes pending)")
                }
                wakeCompaction(held)
                held.wait(nanoseconds: 100_000_000)
                continue
            }
            let number = versions.newFileNumber()
            let newLog: WALHandle
            do {
                newLog = try createLog(number: number)
            } catch let e as StrataError {
                setBackgroundError(e, during: "creating a new log", held)
                throw readOnlyError(held)
            }
            if let old = s.wal {
                do {
                    try old.close()
                } catch let e as StrataError {
                    setBackgroundError(e, during: "closing the old log", held)
                    throw readOnlyError(held)
                }
            }
            s.switchLog(to: newLog)
            for family in families(held).retireMemtables(newLog: number) {
                publishSuperVersion(family, held)
            }
            s.beginFlush()
            held.broadcast()  // wakes the flush thread
            force = false
            return
        }
    }
}

/// How an async write that could not lead at once was queued.
private enum AsyncQueueing {
    /// The database is closing: the write is refused.
    case refused
    /// Another leader will commit it.
    case waiting
    /// It leads; the commit thread must be woken to commit it.
    case leads
}
