import Synchronization

/// The database's compaction state. Everything except `pendingOutputs`
/// and `stopping` is guarded by `DBCore.mu`.
final class CompactionControl: @unchecked Sendable {
    /// The compaction thread waits here, not on `mu`'s own condition, so
    /// the write path's per-group broadcasts do not wake it.
    let wakeup = MonitorCondition()
    let exited = ThreadParker()
    /// Set when the database closes: a running job stops and discards its outputs.
    let stopping = Atomic<Bool>(false)
    /// Table numbers being written by a flush or compaction: never deleted
    /// as obsolete, though no version lists them yet.
    let pendingOutputs = Locked<Set<UInt64>>([])

    // MARK: guarded by mu
    /// `compactRange` requests, served in order.
    var manualQueue: [ManualCompaction] = []
    /// A job is running (with `mu` released).
    var running = false
    /// Write-stall inputs, refreshed whenever a version is published.
    var level0Files = 0
    var pendingCompactionBytes: UInt64 = 0

    init(options: Options) {}

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
