import Foundation
import Strata
import StrataMessageStore
import Testing

/// The LSM store's restart paths the message crash loop exercises, each
/// pinned by a test of its own: range deletes that clear acknowledged
/// prefixes behind a recorded head (never over a message left behind),
/// the head and window rebuilt after a restart, locks that expire across a
/// restart, and `pending` over range tombstones before and after compaction.
@Suite struct RestartTests {
    let clock = ManualClock()

    func open(_ dir: String) async throws -> LSMMessageStore {
        var o = MessageStoreOptions()
        o.clock = clock.clock
        o.rangeDeleteInterval = 8
        o.logger.logLevel = .warning
        o.engine.logger.logLevel = .warning
        return try await LSMMessageStore.open(at: dir + "/s", options: o)
    }

    func ids(_ n: Range<Int>) -> [String] { n.map { "m\($0)" } }

    @Test func rangeDeletesBehindTheHeadNeverCoverAMessageLeftBehind() async throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var store = try await open(dir)
        try await store.createQueue("q", settings: QueueSettings(lockDuration: .seconds(30)))
        try await store.add(contentsOf: (0..<100).map { Message(id: "m\($0)", queue: "q", payload: [UInt8($0)], timestamp: clock.now) })
        // Take 60, complete all but m3 and m20 (held locked), in several calls
        // so the store writes range deletes (every 8 acks) behind its head.
        let got = try await store.receive(queue: "q", limit: 60)
        #expect(got.map(\.message.id) == ids(0..<60))
        let held = Set(["m3", "m20"])
        for chunk in stride(from: 0, to: 60, by: 7) {
            try await store.complete(got[chunk..<min(60, chunk + 7)].filter { !held.contains($0.message.id) }.map(\.lockToken))
        }
        let expected = ["m3", "m20"] + ids(60..<100)
        #expect(try await store.pending(queue: "q", limit: 1000).map(\.id) == expected)
        for round in 0..<2 {
            try await store.close()
            store = try await open(dir)
            // The head and window are rebuilt from the recorded head: what
            // pending lists, get finds, and receive serves agree.
            #expect(try await store.pending(queue: "q", limit: 1000).map(\.id) == expected, "restart \(round)")
            #expect(try await store.get(id: "m3")?.deliveryCount == 1)
            #expect(try await store.get(id: "m2") == nil)
            let st = try await store.statistics(queue: "q")
            #expect(st.locked == 2 && st.active == 40, "restart \(round): \(st)")
            if round == 0 {
                // Range tombstones in tables, then compacted away: same answers.
                try await store.compact()
            }
        }
        // A new message goes after the old ones, whatever the recorded head.
        try await store.add(Message(id: "new", queue: "q", payload: [], timestamp: clock.now))
        #expect(try await store.pending(queue: "q", limit: 1000).map(\.id) == expected + ["new"])
        #expect(try await store.receive(queue: "q", limit: 2).map(\.message.id) == ["m60", "m61"])
        try await store.close()
    }

    @Test func locksExpireAcrossARestartAndTheirTokensThenFail() async throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var store = try await open(dir)
        try await store.createQueue("q", settings: QueueSettings(lockDuration: .seconds(10)))
        try await store.add(contentsOf: (0..<3).map { Message(id: "m\($0)", queue: "q", payload: [], timestamp: clock.now) })
        let first = try await store.receive(queue: "q", limit: 2)
        try await store.close()
        store = try await open(dir)
        // Still locked after the restart: only m2 is deliverable.
        let second = try await store.receive(queue: "q", limit: 3)
        #expect(second.map(\.message.id) == ["m2"])
        clock.advance(.seconds(11))
        try await store.close()
        store = try await open(dir)
        // Expired while the store was down: redelivered, counted, old tokens dead.
        let third = try await store.receive(queue: "q", limit: 3)
        #expect(third.map(\.message.id) == ["m0", "m1", "m2"])
        #expect(third.map(\.message.deliveryCount) == [2, 2, 2])
        await #expect(throws: MessageStoreError.self) { try await store.complete(first[0].lockToken) }
        try await store.complete(third.map(\.lockToken))
        #expect(try await store.pending(queue: "q", limit: 10).isEmpty)
        try await store.close()
    }
}
