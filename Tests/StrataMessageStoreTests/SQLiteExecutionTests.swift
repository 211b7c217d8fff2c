import Foundation
import Synchronization
import StrataMessageStore
import StrataSQLite
import Testing

/// The SQLite store's execution layer and error vocabulary (issue 12 items 3
/// and 8): statements run on the store's own queue, not the caller's
/// thread; a wait for another connection's lock ends on cancellation; busy,
/// full and damaged databases surface as `.unavailable`, `.storageFull` and
/// `.corruption`.
@Suite struct SQLiteExecutionTests {
    /// A second store on the same file holding SQLite's write lock (an open
    /// `BEGIN IMMEDIATE`) until `release()`.
    struct WriteLockHolder {
        let store: SQLiteMessageStore
        init(path: String) async throws {
            store = try SQLiteMessageStore(path: path)
            try await store.executeForTesting("BEGIN IMMEDIATE")
        }
        func release() async throws {
            try await store.executeForTesting("ROLLBACK")
            try await store.close()
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func aWaitForAnotherConnectionsLockEndsOnCancellation() async throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try SQLiteMessageStore(path: dir + "/s.sqlite")
        try await store.add(Message(id: "first", queue: "q", payload: []))
        let holder = try await WriteLockHolder(path: dir + "/s.sqlite")
        // The add cannot start its transaction while the holder has the lock;
        // cancelled (whenever: before or during its wait) it must give up
        // with CancellationError instead of waiting out the busy timeout.
        try await store.setBusyTimeout(.seconds(3600))  // only cancellation can end the wait
        let add = Task { try await store.add(Message(id: "blocked", queue: "q", payload: [])) }
        add.cancel()
        await #expect(throws: CancellationError.self) { try await add.value }
        try await holder.release()
        // Nothing of the cancelled add was stored; the store works on.
        #expect(try await store.get(id: "blocked") == nil)
        try await store.add(Message(id: "after", queue: "q", payload: []))
        #expect(try await store.pending(queue: "q", limit: 10).map(\.id) == ["first", "after"])
        try await store.close()
    }

    @Test(.timeLimit(.minutes(1)))
    func aDatabaseLockedPastTheBusyTimeoutIsUnavailable() async throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try SQLiteMessageStore(path: dir + "/s.sqlite")
        try await store.initialize()
        try await store.setBusyTimeout(.milliseconds(100))
        let holder = try await WriteLockHolder(path: dir + "/s.sqlite")
        do {
            try await store.add(Message(id: "m", queue: "q", payload: []))
            Issue.record("an add succeeded while another connection held the write lock")
        } catch let e as MessageStoreError {
            #expect(e.kind == .unavailable, "\(e)")
            #expect(e.isTransient)
            #expect(e.underlying is SQLiteResultError)
        }
        try await holder.release()
        // Transient: the same call succeeds once the lock is free.
        try await store.add(Message(id: "m", queue: "q", payload: []))
        #expect(try await store.get(id: "m") != nil)
        try await store.close()
    }

    /// Counts finished tasks (an atomic: no lock for the test to share).
    final class Counter: Sendable {
        private let value = Atomic<Int>(0)
        func increment() { value.add(1, ordering: .sequentiallyConsistent) }
        var count: Int { value.load(ordering: .sequentiallyConsistent) }
    }

    /// Statements that wait (here: for the write lock) must not hold the
    /// cooperative pool's threads: with more blocked adds than the pool has
    /// threads, another task still runs while every add is still waiting.
    @Test(.timeLimit(.minutes(1)))
    func waitingStatementsDoNotBlockTheCooperativePool() async throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try SQLiteMessageStore(path: dir + "/s.sqlite")
        try await store.initialize()
        // Waits only end by the lock's release: nothing here depends on timing.
        try await store.setBusyTimeout(.seconds(3600))
        let holder = try await WriteLockHolder(path: dir + "/s.sqlite")
        let width = ProcessInfo.processInfo.activeProcessorCount + 2
        let finished = Counter()
        let adds = (0..<width).map { i in
            Task {
                defer { finished.increment() }
                try await store.add(Message(id: "m\(i)", queue: "q", payload: []))
            }
        }
        // Runs on the pool. Had the adds blocked its threads, it could run
        // only after one of them had given up waiting.
        let finishedWhenOthersRan = await Task.detached { finished.count }.value
        #expect(finishedWhenOthersRan == 0)
        try await holder.release()
        for add in adds { try await add.value }
        #expect(try await store.pending(queue: "q", limit: 100).count == width)
        try await store.close()
    }

    @Test func aDamagedDatabaseFileIsCorruption() async throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/s.sqlite"
        do {
            let store = try SQLiteMessageStore(path: path)
            try await store.add(contentsOf: (0..<200).map { Message(id: "m\($0)", queue: "q", payload: Array(repeating: UInt8($0), count: 1000)) })
            try await store.close()
        }
        let original = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(original.count > 16 * 4096)

        // A damaged header: not a database any more.
        var header = original
        for i in 0..<16 { header[i] ^= 0x5A }
        try header.write(to: URL(fileURLWithPath: path))
        try await expectCorruption(path)

        // Damaged table pages behind an intact schema page: reads fail.
        var pages = original
        for i in 4096..<pages.count { pages[i] = UInt8(truncatingIfNeeded: i &* 131) }
        try pages.write(to: URL(fileURLWithPath: path))
        try await expectCorruption(path)
    }

    /// Opening the store at `path` and reading all of it throws `.corruption`
    /// (at the open or at the first read, whichever touches the damage).
    func expectCorruption(_ path: String, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        do {
            let store = try SQLiteMessageStore(path: path)
            defer { Task { try? await store.close() } }
            _ = try await store.queues()
            _ = try await store.pending(queue: "q", limit: 1000)
            Issue.record("a damaged file read without error", sourceLocation: sourceLocation)
        } catch let e as MessageStoreError {
            #expect(e.kind == .corruption, "\(e)", sourceLocation: sourceLocation)
        }
    }
}
