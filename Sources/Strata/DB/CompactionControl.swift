import Synchronization

/// The database's compaction state: the threads' wake-up and exit
/// signals, the table numbers being written, and, behind `mu`, the running
/// jobs (`CompactionJobs`) and the `compactRange` queue.
///
/// The part `mu` guards is reachable only with the proof of holding it
/// (`state(_:)` to read, `update(_:_:)` to change), so no code can reach
/// it without the lock.
final class CompactionControl: @unchecked Sendable {
    /// What `mu` guards.
    struct Guarded {
        /// Running jobs and the rule that keeps them disjoint.
        var jobs = CompactionJobs()
        /// `compactRange` requests, served in order.
        var manualQueue: [ManualCompaction] = []
        /// The write-stall inputs, refreshed whenever a version is published.
        var pressure = CompactionPressure()
    }

    /// Compaction threads wait here, not on `mu`'s own condition, so the
    /// write path's per-group broadcasts do not wake them.
    let wakeup = MonitorCondition()
    /// Unparked once by each compaction thread as it exits.
    let exited = ThreadParker()
    /// Set when the database closes: a running job stops and discards its outputs.
    let stopping = Atomic<Bool>(false)
    /// Table numbers being written by a flush or compaction: never deleted
    /// as obsolete, though no version lists them yet.
    let pendingOutputs = Locked<Set<UInt64>>([])

    @exclusivity(unchecked) private var guarded = Guarded()

    init(options: Options) {}

    /// The guarded state, read under `mu`.
    @inline(__always)
    func state(_ held: borrowing MonitorHeld) -> Guarded { guarded }

    /// The write-stall inputs, read under `mu` by every commit group
    /// (without copying the rest of the guarded state).
    @inline(__always)
    func pressure(_ held: borrowing MonitorHeld) -> CompactionPressure { guarded.pressure }

    /// Changes the guarded state under `mu`.
    @inline(__always)
    func update<R>(_ held: borrowing MonitorHeld, _ body: (inout Guarded) throws -> R) rethrows -> R {
        try body(&guarded)
    }

    /// Allocates nothing; marks `number` as being written.
    func protect(_ number: UInt64) {
        _ = pendingOutputs.withLock { $0.insert(number) }
    }

    func release(_ numbers: [UInt64]) {
        pendingOutputs.withLock { set in for n in numbers { set.remove(n) } }
    }

    func isPending(_ number: UInt64) -> Bool {
        pendingOutputs.withLock { $0.contains(number) }
    }
}

/// How far compaction is behind, as the write path sees it: the largest
/// level 0 of any family and the families' summed pending bytes. The stall
/// rules are plain functions of it and the options (tested without a
/// database or threads).
struct CompactionPressure: Equatable {
    var level0Files = 0
    var pendingBytes: UInt64 = 0

    /// Writers sleep 1 ms once per group: level 0 at
    /// `level0SlowdownWritesTrigger`, or `softPendingCompactionBytesLimit`
    /// (0 = none) reached.
    func slowsWrites(_ o: Options) -> Bool {
        level0Files >= o.level0SlowdownWritesTrigger
            || (o.softPendingCompactionBytesLimit > 0 && pendingBytes >= o.softPendingCompactionBytesLimit)
    }

    /// A full memtable waits for compaction: level 0 at
    /// `level0StopWritesTrigger`, or `hardPendingCompactionBytesLimit`
    /// (0 = none) reached.
    func stopsWrites(_ o: Options) -> Bool {
        level0Files >= o.level0StopWritesTrigger
            || (o.hardPendingCompactionBytesLimit > 0 && pendingBytes >= o.hardPendingCompactionBytesLimit)
    }
}
