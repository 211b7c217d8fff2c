import Foundation
import Strata
import StrataMessageStore
import Testing

/// LSNs handed out by concurrent appenders.
final class LSNLog: Sendable {
    private let log = StoreLock<[Int64]>([])
    func record(_ l: Int64) { log.withLock { $0.append(l) } }
    var all: [Int64] { log.withLock { $0 } }
}

@Suite struct EventStoreTests {
    @Test func appendLoadSnapshotCompactAndRestart() async throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var store = try await LSMEventStore.open(at: dir + "/events")
        let a1 = try await store.append(Event(stream: "doc-1", payload: [1], idempotencyKey: "k1", metadata: ["actor": "ann"]))
        let b1 = try await store.append(Event(stream: "doc-2", payload: [9], idempotencyKey: "k2"))
        let last = try await store.append(contentsOf: (2...5).map { Event(stream: "doc-1", payload: [UInt8($0)], idempotencyKey: "k1-\($0)") })
        #expect(a1 == 1 && b1 == 2 && last == 6)
        // A retried append is idempotent: same LSN, nothing appended.
        #expect(try await store.append(Event(stream: "doc-1", payload: [1], idempotencyKey: "k1")) == 1)
        let all = try await store.load(stream: "doc-1", after: 0, limit: 100)
        #expect(all.map(\.lsn) == [1, 3, 4, 5, 6])
        #expect(all.map(\.payload) == [[1], [2], [3], [4], [5]])
        #expect(all[0].metadata == ["actor": "ann"])
        #expect(all.allSatisfy { $0.checksum != 0 })
        #expect(try await store.load(stream: "doc-1", after: 4, limit: 1).map(\.lsn) == [5])
        try await store.writeSnapshot(EventSnapshot(stream: "doc-1", uptoLSN: 3, state: [0xaa]))
        try await store.writeSnapshot(EventSnapshot(stream: "doc-1", uptoLSN: 5, state: [0xbb], version: 2))
        #expect(try await store.latestSnapshot(stream: "doc-1")?.state == [0xbb])
        #expect(try await store.latestSnapshot(stream: "doc-3") == nil)
        try await store.compact(stream: "doc-1")
        #expect(try await store.load(stream: "doc-1", after: 0, limit: 100).map(\.lsn) == [6])
        #expect(try await store.load(stream: "doc-2", after: 0, limit: 100).map(\.lsn) == [2])
        try await store.close()
        store = try await LSMEventStore.open(at: dir + "/events")
        #expect(try await store.latestSnapshot(stream: "doc-1")?.uptoLSN == 5)
        #expect(try await store.append(Event(stream: "doc-1", payload: [], idempotencyKey: "k1-2")) == 3)
        #expect(try await store.append(Event(stream: "doc-1", payload: [7])) == 7)  // LSNs continue after a restart
        await #expect(throws: MessageStoreError.self) { try await store.append(Event(stream: "", payload: [])) }
        try await store.close()
    }

    @Test func concurrentAppendersGetUniqueLSNsAndReadersSeeNoGaps() async throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try await LSMEventStore.open(at: dir + "/events")
        let lsns = LSNLog()
        try await withThrowingTaskGroup(of: Void.self) { g in
            for w in 0..<8 {
                g.addTask {
                    for i in 0..<50 { lsns.record(try await store.append(Event(stream: "s", payload: [UInt8(w), UInt8(i)]))) }
                }
            }
            g.addTask {
                // A reader that resumes after the last LSN it saw must see every LSN.
                var seen: Int64 = 0
                var count = 0
                while count < 400 {
                    let got = try await store.load(stream: "s", after: seen, limit: 64)
                    for e in got {
                        #expect(e.lsn == seen + 1)
                        seen = e.lsn
                    }
                    count += got.count
                    if got.isEmpty { await Task.yield() }
                }
            }
            try await g.waitForAll()
        }
        #expect(Set(lsns.all).count == 400)
        #expect(lsns.all.max() == 400)
        try await store.close()
    }

    @Test func acknowledgedEventsSurvivePowerLossAndLSNsNeverRepeat() async throws {
        let fs = FaultInjectionFileSystem(seed: 11)
        var options = MessageStoreOptions()
        options.engine.fileSystem = fs
        var store = try await LSMEventStore.open(at: "/events", options: options)
        for i in 0..<30 { _ = try await store.append(Event(stream: "s", payload: [UInt8(i)], idempotencyKey: "e\(i)")) }
        try fs.simulatePowerLoss(tornWrites: true)
        store = try await LSMEventStore.open(at: "/events", options: options)
        #expect(try await store.load(stream: "s", after: 0, limit: 100).map(\.lsn) == Array(1...30))
        #expect(try await store.append(Event(stream: "s", payload: [])) == 31)
        try await store.close()
    }
}
