import Testing
@testable import Strata

/// The group-commit grouping rule on plain queues: which writes behind the
/// leader join its group. No threads; the live queue uses the same function.
@Suite struct CommitGroupingTests {
    struct W: GroupableWrite {
        var groupBytes: Int
        var logged = true
        var forceSwitch = false
    }

    @Test func aLoneLeaderIsItsOwnGroup() {
        let g = CommitGrouping.group(of: [W(groupBytes: 100)])
        #expect(g.count == 1 && g.bytes == 100)
    }

    @Test func smallWritesJoinUpToTheSmallLeadersBudget() {
        // Budget of a 1 KiB leader: 1 KiB + 128 KiB. 128 writes of 1 KiB fit behind it; the 129th does not.
        let queue = Array(repeating: W(groupBytes: 1024), count: 200)
        let g = CommitGrouping.group(of: queue)
        #expect(g.count == 129)
        #expect(g.bytes == 129 * 1024)
        #expect(g.bytes <= CommitGrouping.byteBudget(leaderBytes: 1024))
    }

    @Test func aWriteExactlyFillingTheBudgetJoins() {
        let leader = W(groupBytes: 10)
        let exact = W(groupBytes: CommitGrouping.smallLeaderBytes)
        #expect(CommitGrouping.group(of: [leader, exact]).count == 2)
        let over = W(groupBytes: CommitGrouping.smallLeaderBytes + 1)
        #expect(CommitGrouping.group(of: [leader, over, W(groupBytes: 1)]).count == 1, "a write that does not fit ends the group: order is kept")
    }

    @Test func aLargeLeaderGetsTheLargeBudget() {
        let big = CommitGrouping.smallLeaderBytes + 1
        #expect(CommitGrouping.byteBudget(leaderBytes: big) == CommitGrouping.largeGroupBytes)
        let rest = CommitGrouping.largeGroupBytes - big
        #expect(CommitGrouping.group(of: [W(groupBytes: big), W(groupBytes: rest), W(groupBytes: 1)]).count == 2)
        // A leader above the large budget still commits, alone.
        let huge = W(groupBytes: CommitGrouping.largeGroupBytes * 2)
        #expect(CommitGrouping.group(of: [huge, W(groupBytes: 1)]) == (1, CommitGrouping.largeGroupBytes * 2))
    }

    @Test func loggingModeSplitsGroups() {
        let queue = [W(groupBytes: 10), W(groupBytes: 10), W(groupBytes: 10, logged: false), W(groupBytes: 10)]
        #expect(CommitGrouping.group(of: queue).count == 2)
        #expect(CommitGrouping.group(of: Array(queue[2...])).count == 1)
        let unlogged = [W(groupBytes: 10, logged: false), W(groupBytes: 10, logged: false)]
        #expect(CommitGrouping.group(of: unlogged).count == 2)
    }

    @Test func aFlushBarrierIsAlwaysAlone() {
        let barrier = W(groupBytes: 12, forceSwitch: true)
        #expect(CommitGrouping.group(of: [barrier, W(groupBytes: 10)]).count == 1)
        #expect(CommitGrouping.group(of: [W(groupBytes: 10), W(groupBytes: 10), barrier, W(groupBytes: 10)]).count == 2)
    }

    @Test func aSliceOfTheQueueGroupsFromItsFront() {
        let queue = [W(groupBytes: 10, forceSwitch: true), W(groupBytes: 10), W(groupBytes: 10)]
        let g = CommitGrouping.group(of: queue[1...])
        #expect(g.count == 2 && g.bytes == 20)
    }
}
