/// What the grouping rule of group commit needs to know about a queued write.
protocol GroupableWrite {
    /// Encoded size of the write's batch.
    var groupBytes: Int { get }
    /// Whether it writes a log record (false for `.memoryOnly`).
    var logged: Bool { get }
    /// A manual-flush barrier: always alone in its group.
    var forceSwitch: Bool { get }
}

extension PendingWrite: GroupableWrite {
    @inline(__always) var groupBytes: Int { batch.byteSize }
}

/// Which queued writes the commit leader takes into its group: the leader
/// (the queue's front) and the writes behind it, in order, until one is a
/// flush barrier, differs from the leader in logging (a group is one log
/// record, or none), or would take the group past its byte budget. A
/// small leader gets a small budget (its own size plus 128 KiB), so it
/// never waits behind a huge group; a large one gets 1 MiB.
///
/// Pure: the commit leader calls it with `mu` held on the live queue, the
/// tests on plain arrays (`CommitGroupingTests`), no threads involved.
enum CommitGrouping {
    /// Leaders up to this size get a budget of their size plus this much.
    static let smallLeaderBytes = 128 << 10
    /// Budget of a larger leader's group.
    static let largeGroupBytes = 1 << 20

    /// Most bytes a group led by a batch of `leaderBytes` may hold (a
    /// leader larger than this still commits, alone).
    @inline(__always)
    static func byteBudget(leaderBytes: Int) -> Int {
        leaderBytes <= smallLeaderBytes ? leaderBytes + smallLeaderBytes : largeGroupBytes
    }

    /// How many writes from the front of `queue` (non-empty; the leader at
    /// index 0) form the group, and their bytes in all.
    static func group<Queue: RandomAccessCollection>(of queue: Queue) -> (count: Int, bytes: Int)
    where Queue.Element: GroupableWrite, Queue.Index == Int {
        let leader = queue[queue.startIndex]
        var bytes = leader.groupBytes
        if leader.forceSwitch { return (1, bytes) }
        let budget = byteBudget(leaderBytes: bytes)
        var i = queue.startIndex + 1
        while i < queue.endIndex {
            let w = queue[i]
            if w.forceSwitch || w.logged != leader.logged || bytes + w.groupBytes > budget { break }
            bytes += w.groupBytes
            i += 1
        }
        return (i - queue.startIndex, bytes)
    }
}
