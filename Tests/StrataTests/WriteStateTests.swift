import Testing
@testable import Strata

/// The write side's guarded state (`WriteState`) driven in one thread: who
/// leads, which writes a finished group wakes, the hand-off, the flush
/// barrier, the first background error. The live write path calls these
/// same methods under `mu`.
@Suite struct WriteStateTests {
    static func write(async: Bool = false) -> PendingWrite {
        let w = PendingWrite(batch: WriteBatch(), sync: false, logged: true, parker: nil)
        w.isAsync = async
        return w
    }

    @Test func theFirstWriteOfAnIdleQueueLeadsAndTheOthersWait() {
        let s = WriteState()
        #expect(s.isIdle)
        let a = Self.write(), b = Self.write()
        #expect(s.enqueue(a))
        #expect(!s.isIdle)
        #expect(!s.enqueue(b), "a leader is active: the second write waits")
        #expect(a.isLeader && !b.isLeader)
        #expect(s.writers.count == 2 && s.writers[0] === a)
    }

    @Test func aFinishedGroupWakesAllButItsSynchronousLeaderAndHandsOff() {
        let s = WriteState()
        let leader = Self.write(), second = Self.write(async: true), third = Self.write(), fourth = Self.write()
        for w in [leader, second, third, fourth] { _ = s.enqueue(w) }
        var woken: [PendingWrite] = []
        let e = StrataError(.ioError, "disk full")
        s.finishGroup(count: 3, leader: leader, error: e) { woken.append($0) }
        #expect(woken.count == 2 && woken[0] === second && woken[1] === third)
        #expect([leader, second, third].allSatisfy { $0.done && $0.error?.message == e.message })
        #expect(!fourth.done && fourth.error == nil)
        #expect(s.writers.count == 1 && s.writers[0] === fourth, "the group is removed, the rest keeps its order")
        let next = s.handOffLeadership()
        #expect(next === fourth && fourth.isLeader)
        #expect(!s.isIdle)
    }

    @Test func anAsyncLeaderIsWokenToo() {
        // The commit thread leads async writes: their callers wait on a continuation.
        let s = WriteState()
        let leader = Self.write(async: true)
        _ = s.enqueue(leader)
        var woken = 0
        s.finishGroup(count: 1, leader: leader, error: nil) { _ in woken += 1 }
        #expect(woken == 1 && leader.done)
    }

    @Test func handingOffAnEmptyQueueEndsTheLead() {
        let s = WriteState()
        let a = Self.write()
        _ = s.enqueue(a)
        s.finishGroup(count: 1, leader: a, error: nil) { _ in Issue.record("a synchronous leader wakes itself") }
        #expect(s.handOffLeadership() == nil)
        #expect(s.isIdle)
        let b = Self.write()
        #expect(s.enqueue(b), "after the hand-off found no one, the next write leads")
    }

    @Test func closeTakesAndGivesBackTheLead() {
        let s = WriteState()
        s.closing = true
        s.takeLeadForClose()
        #expect(!s.isIdle)
        s.releaseLeadForClose()
        #expect(s.isIdle)
    }

    @Test func aSwitchCarriesUnloggedWritesToTheFlush() {
        let s = WriteState()
        #expect(!s.hasUnloggedData && !s.flushPending)
        s.noteUnloggedWrite()
        #expect(s.hasUnloggedData)
        s.beginFlush()
        #expect(s.flushPending)
        #expect(s.hasUnloggedData, "the unlogged writes are in the memtables being flushed")
        s.finishFlush()
        #expect(!s.flushPending && !s.hasUnloggedData)
        s.beginFlush()
        #expect(s.flushPending && !s.hasUnloggedData, "a switch with only logged writes")
    }

    @Test func theFirstBackgroundErrorWins() {
        let s = WriteState()
        #expect(s.recordBackgroundError(StrataError(.ioError, "first")))
        #expect(!s.recordBackgroundError(StrataError(.corruption, "second")))
        #expect(s.bgError?.message == "first")
        #expect(s.readOnlyError.kind == .readOnly)
        #expect(s.readOnlyError.message.contains("first"))
    }

    @Test func aReadOnlyOpensErrorIsThrownAsItIs() {
        let s = WriteState()
        let own = StrataError(.readOnly, "open read-only")
        s.recordBackgroundError(own)
        #expect(s.readOnlyError.message == own.message)
    }
}
