/// One caller's write waiting in the group-commit queue. All mutable fields
/// are guarded by the database monitor (`DBCore.mu`).
final class PendingWrite: @unchecked Sendable {
    var batch: WriteBatch
    /// Fsync before acknowledging.
    let sync: Bool
    /// Write a log record (false for `.memoryOnly`).
    let logged: Bool
    /// Switch the memtable out even if it is not full (manual flush barrier).
    let forceSwitch: Bool
    /// The caller waits in the async API (led by the commit thread).
    var isAsync = false
    /// For `.asyncDurable`: fsync no later than this after the write.
    var asyncWindow: Duration?
    var done = false
    var isLeader = false
    var error: StrataError?
    /// Wakes a thread waiting in the synchronous API; nil for async callers.
    var parker: ThreadParker?
    /// Resumed for a caller waiting in the async API.
    var continuation: CheckedContinuation<Void, any Error>?

    init(batch: WriteBatch, sync: Bool, logged: Bool, forceSwitch: Bool = false, parker: ThreadParker?) {
        self.batch = batch
        self.sync = sync
        self.logged = logged
        self.forceSwitch = forceSwitch
        self.parker = parker
    }
}
