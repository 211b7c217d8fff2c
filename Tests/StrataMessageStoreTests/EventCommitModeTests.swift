import Foundation
import Strata
import StrataMessageStore
import Testing

/// The LSM event store under each commit mode, through the fault-injecting
/// file system: what survives a process crash and a power loss.
@Suite struct EventCommitModeTests {
    private func open(_ fs: FaultInjectionFileSystem, _ mode: EventStoreOptions.CommitMode) async throws -> LSMEventStore {
        var engine = Options()
        engine.fileSystem = fs
        return try await LSMEventStore.open(at: "/events", options: EventStoreOptions(commitMode: mode), engine: engine)
    }

    /// After any crash the store holds a gap-free prefix 1…k of the appended
    /// events, each intact and reachable by its key, and the next append
    /// gets k + 1 — never an LSN a surviving event holds.
    private func checkPrefix(_ store: LSMEventStore, appended: Int) async throws -> Int {
        let events = try await store.load(stream: "s", after: 0, limit: 10_000)
        let k = events.count
        #expect(events.map(\.lsn) == (0..<k).map { Int64($0 + 1) })
        for e in events {
            #expect(e.payload == [UInt8(truncatingIfNeeded: e.lsn - 1)])
            #expect(try await store.lsn(forIdempotencyKey: e.idempotencyKey) == e.lsn)
        }
        if k < appended { #expect(try await store.lsn(forIdempotencyKey: "e\(k)") == nil) }
        #expect(try await store.append(Event(stream: "s", payload: [], idempotencyKey: "after")) == Int64(k + 1))
        return k
    }

    /// The process dies with `store` open: every later file-system call
    /// fails, so the close that follows writes nothing (the handle only
    /// stops its threads), as after a SIGKILL.
    private func crash(_ fs: FaultInjectionFileSystem, _ store: LSMEventStore) async throws {
        fs.crash()
        try? await store.close()
    }

    private func appendAll(_ store: LSMEventStore, _ n: Int) async throws {
        for i in 0..<n { #expect(try await store.append(Event(stream: "s", payload: [UInt8(truncatingIfNeeded: i)], idempotencyKey: "e\(i)")) == Int64(i + 1)) }
    }

    @Test(arguments: [EventStoreOptions.CommitMode.syncDurable, .asyncDurable(groupWindow: .milliseconds(5)), .memoryOnly])
    func everyModeKeepsEverythingAcrossACleanClose(mode: EventStoreOptions.CommitMode) async throws {
        let fs = FaultInjectionFileSystem(seed: 3)
        var store = try await open(fs, mode)
        try await appendAll(store, 40)
        try await store.close()
        store = try await open(fs, mode)
        #expect(try await checkPrefix(store, appended: 40) == 40)
        try await store.close()
    }

    @Test func syncDurableKeepsEveryAcknowledgedEventThroughPowerLoss() async throws {
        for seed in UInt64(1)...5 {
            let fs = FaultInjectionFileSystem(seed: seed)
            let doomed = try await open(fs, .syncDurable)
            try await appendAll(doomed, 30)
            try await crash(fs, doomed)
            try fs.simulatePowerLoss(tornWrites: true)
            let store = try await open(fs, .syncDurable)
            #expect(try await checkPrefix(store, appended: 30) == 30, "seed \(seed)")
            try await store.close()
        }
    }

    @Test func asyncDurableKeepsEveryAcknowledgedEventThroughAProcessCrash() async throws {
        let fs = FaultInjectionFileSystem(seed: 7)
        let doomed = try await open(fs, .asyncDurable(groupWindow: .seconds(30)))  // no background sync before the crash
        try await appendAll(doomed, 50)
        try await crash(fs, doomed)
        fs.restartAfterProcessCrash()
        let store = try await open(fs, .asyncDurable(groupWindow: .seconds(30)))
        #expect(try await checkPrefix(store, appended: 50) == 50)
        try await store.close()
    }

    @Test func asyncDurableLosesOnlyASuffixOnPowerLoss() async throws {
        var kept: [Int] = []
        for seed in UInt64(1)...6 {
            let fs = FaultInjectionFileSystem(seed: seed)
            let doomed = try await open(fs, .asyncDurable(groupWindow: .seconds(30)))
            try await appendAll(doomed, 50)
            try await crash(fs, doomed)
            try fs.simulatePowerLoss(tornWrites: true)
            let store = try await open(fs, .asyncDurable(groupWindow: .seconds(30)))
            kept.append(try await checkPrefix(store, appended: 50))
            try await store.close()
        }
        print("asyncDurable power loss: events kept per seed \(kept)")
    }

    @Test func memoryOnlyReopensConsistentlyAfterAProcessCrash() async throws {
        let fs = FaultInjectionFileSystem(seed: 9)
        let doomed = try await open(fs, .memoryOnly)
        try await appendAll(doomed, 20)
        try await crash(fs, doomed)
        fs.restartAfterProcessCrash()
        let store = try await open(fs, .memoryOnly)
        // Unlogged writes may be lost; what survives is a consistent prefix.
        let kept = try await checkPrefix(store, appended: 20)
        print("memoryOnly process crash: \(kept) of 20 events kept")
        try await store.close()
    }
}
