/// One caller's write waiting in the group-commit queue. All mutable fields
/// are guarded by the database monitor (`DBCore.mu`), which makes every
/// access exclusive; so they skip the runtime's dynamic exclusivity check
/// (`@exclusivity(unchecked)`, as `WriteState`'s).
final class PendingWrite: @unchecked Sendable {
    let batch: WriteBatch
    /// Fsync before acknowledging.
    let sync: Bool
    /// Write a log record (false for `.memoryOnly`).
    let logged: Bool
    /// Switch the memtable out even if it is not full (manual flush barrier).
    let forceSwitch: Bool
    /// The caller waits in the async API (led by the commit thread).
    @exclusivity(unchecked) var isAsync = false
    /// For `.asyncDurable`: fsync no later than this after the write.
    @exclusivity(unchecked) var asyncWindow: Duration?
    @exclusivity(unchecked) var done = false
    @exclusivity(unchecked) var isLeader = false
    @exclusivity(unchecked) var error: StrataError?
    /// Wakes a thread waiting in the synchronous API; nil for async callers.
    @exclusivity(unchecked) var parker: ThreadParker?
    /// Resumed for a caller waiting in the async API.
    @exclusivity(unchecked) var continuation: CheckedContinuation<Void, any Error>?

    init(batch: WriteBatch, sync: Bool, logged: Bool, forceSwitch: Bool = false, parker: ThreadParker?) {
        self.batch = batch
        self.sync = sync
        self.logged = logged
        self.forceSwitch = forceSwitch
        self.parker = parker
    }
}
