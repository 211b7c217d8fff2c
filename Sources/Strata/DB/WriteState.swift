/// Everything `mu` guards on the engine's write side, in one home: the
/// group-commit queue and its leader, the flush hand-off, the live log,
/// the background error and shutdown.
///
/// `DBCore` keeps it private and hands it out only to holders of the lock
/// (`guarded(_ held: borrowing MonitorHeld)`), so no code reaches it
/// without `mu`. Callers fetch it for each use and do not keep the
/// reference past their critical section (the token cannot outlive it;
/// a class reference could, so that rule is the one part left to review).
///
/// Its rules are plain methods: no lock, no parking, no I/O. The write path
/// does the waking and the log work around them, and WriteStateTests
/// drives the rules in one thread.
///
/// Its stored properties are `@exclusivity(unchecked)`: every access is
/// made holding `mu`, which already makes it exclusive, and the runtime's
/// dynamic exclusivity check (an access-set insert through thread-local
/// storage per class property access) cost about 4% of a lone writer's CPU
/// in the fillseq profile (Docs/benchmarks.md). ThreadSanitizer, not the
/// check, is what would see an access made without the lock.
final class WriteState {
    // MARK: write queue

    /// Writes waiting or being committed, oldest first. Only the back grows
    /// (`enqueue`) and only the leader removes from the front
    /// (`finishGroup`), so the leader's group is always the queue's prefix.
    @exclusivity(unchecked) private(set) var writers: [PendingWrite] = []
    /// A write leads (or `close()` holds the lead for its final switch).
    @exclusivity(unchecked) private(set) var leaderActive = false

    /// No write is queued or leading: an async write may lead in its own task.
    var isIdle: Bool { !leaderActive && writers.isEmpty }

    /// Queues `w`; it leads at once when no one leads. Returns whether it leads.
    @inline(__always)
    func enqueue(_ w: PendingWrite) -> Bool {
        writers.append(w)
        if !leaderActive {
            leaderActive = true
            w.isLeader = true
        }
        return w.isLeader
    }

    /// Marks the first `count` writes done with `error`, removes them and
    /// passes each one except a synchronous `leader` (which returns to its
    /// caller itself) to `wake`.
    @inline(__always)
    func finishGroup(count: Int, leader: PendingWrite, error: StrataError?, wake: (PendingWrite) -> Void) {
        for i in 0..<count {
            let w = writers[i]
            w.done = true
            w.error = error
            if w !== leader || w.isAsync { wake(w) }
        }
        writers.removeFirst(count)
    }

    /// Makes the next queued write the leader and returns it (its caller
    /// must be woken); nil when the queue is empty, and no one leads.
    @inline(__always)
    func handOffLeadership() -> PendingWrite? {
        guard let next = writers.first else {
            leaderActive = false
            return nil
        }
        next.isLeader = true
        return next
    }

    /// `close()` takes the lead for its final memtable switch once the queue
    /// is idle (no write can queue: `closing` is set) and gives it back.
    func takeLeadForClose() {
        precondition(isIdle && closing, "close takes the lead only from an idle, closing queue")
        leaderActive = true
    }

    func releaseLeadForClose() { leaderActive = false }

    // MARK: live log

    /// The live write-ahead log (nil before recovery's install and after close).
    @exclusivity(unchecked) private(set) var wal: WALHandle?
    /// Its file number: every family's data not yet in a table is in this log or newer.
    @exclusivity(unchecked) private(set) var logNumber: UInt64 = 0

    /// `log` becomes the live log.
    func switchLog(to log: WALHandle) {
        wal = log
        logNumber = log.number
    }

    /// Forgets the live log (close) and returns it to be closed.
    func takeLog() -> WALHandle? {
        defer { wal = nil }
        return wal
    }

    // MARK: flush hand-off

    /// A memtable switch is not fully recorded yet: some family's immutable
    /// memtable awaits its flush, or the families that had nothing to flush
    /// still have their log numbers to advance. The next switch waits.
    @exclusivity(unchecked) private(set) var flushPending = false
    /// A `.memoryOnly` write went into an active memtable since the last switch.
    @exclusivity(unchecked) private(set) var unloggedWrites = false
    /// The memtables being flushed hold `.memoryOnly` writes.
    @exclusivity(unchecked) private(set) var immHasUnloggedWrites = false

    /// Some acknowledged data is in no log: only a flush makes it durable
    /// (close and checkpoints flush first).
    var hasUnloggedData: Bool { unloggedWrites || immHasUnloggedWrites }

    /// A group of `.memoryOnly` writes was committed.
    @inline(__always)
    func noteUnloggedWrite() { unloggedWrites = true }

    /// The memtables were switched out: the flush thread has work, and the
    /// unlogged writes, if any, are now in the memtables it will flush.
    func beginFlush() {
        precondition(!flushPending, "a memtable switch waits for the previous flush")
        flushPending = true
        immHasUnloggedWrites = unloggedWrites
        unloggedWrites = false
    }

    /// Every switched-out memtable is flushed and recorded.
    func finishFlush() {
        flushPending = false
        immHasUnloggedWrites = false
    }

    // MARK: background error and shutdown

    /// The first background error; set, the database refuses writes.
    @exclusivity(unchecked) private(set) var bgError: StrataError?
    /// `close()` has begun: new writes are refused.
    @exclusivity(unchecked) var closing = false
    /// The background threads are to exit.
    @exclusivity(unchecked) var shuttingDown = false

    /// Records `e` unless an error is already recorded (the first one wins,
    /// it is the cause). Returns whether `e` was recorded.
    @discardableResult
    func recordBackgroundError(_ e: StrataError) -> Bool {
        if bgError != nil { return false }
        bgError = e
        return true
    }

    /// The error a refused write throws once `bgError` is set: a read-only
    /// open's own error, or one naming the failure that stopped writes.
    var readOnlyError: StrataError {
        if let e = bgError, e.kind == .readOnly { return e }
        return StrataError(.readOnly, "writes are stopped after an earlier failure: \(bgError?.description ?? "unknown")")
    }
}
