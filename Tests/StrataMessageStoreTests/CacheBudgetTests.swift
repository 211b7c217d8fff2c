import Foundation
import StrataMessageStore
import Testing

/// The LSM store's cache budget holds on every path that fills the cache —
/// receives (refills), `pending`, `recent` — not only on adds, and counts
/// headers.
@Suite struct CacheBudgetTests {
    static let budget = 32 << 10

    func reopenedStore(_ dir: String, messages: Int, headerBytes: Int) async throws -> LSMMessageStore {
        var options = MessageStoreOptions()
        options.cacheBudgetBytes = Self.budget
        options.logger.logLevel = .warning
        options.engine.logger.logLevel = .warning
        let writer = try await LSMMessageStore.open(at: dir + "/s", options: options)
        let header = String(repeating: "h", count: headerBytes)
        for chunk in stride(from: 0, to: messages, by: 100) {
            try await writer.add(contentsOf: (chunk..<min(messages, chunk + 100)).map {
                Message(id: "m\($0)", queue: $0 % 2 == 0 ? "a" : "b", payload: Array(repeating: 1, count: 512), headers: ["h": header])
            })
        }
        try await writer.close()
        // Reopened: nothing cached; everything that follows only reads.
        return try await LSMMessageStore.open(at: dir + "/s", options: options)
    }

    /// The slack the enforcement allows: an eighth of the budget, plus the
    /// messages a call holds locked or busy (here up to `held`).
    func bound(held: Int, headerBytes: Int) -> Int { Self.budget + Self.budget / 8 + held * (512 + headerBytes + 256) }

    @Test(arguments: [0, 2048])
    func aReceiveOnlyWorkloadStaysInsideTheBudget(headerBytes: Int) async throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try await reopenedStore(dir, messages: 2000, headerBytes: headerBytes)
        for round in 0..<150 {
            let queue = round % 2 == 0 ? "a" : "b"
            // An hour's lock: under ThreadSanitizer beside the other suites a
            // round once outlasted the default 30 s lock (lockLost at complete).
            let got = try await store.receive(queue: queue, limit: 4, lockDuration: .seconds(3600))
            #expect(got.count == 4)
            let afterReceive = store.cacheStatistics.bytes
            #expect(afterReceive <= bound(held: 4, headerBytes: headerBytes), "round \(round): \(afterReceive) bytes cached after a receive")
            try await store.complete(got.map(\.lockToken))
            #expect(store.cacheStatistics.bytes <= bound(held: 0, headerBytes: headerBytes), "round \(round) after complete")
            if afterReceive > bound(held: 4, headerBytes: headerBytes) { break }
        }
        try await store.close()
    }

    @Test func pendingAndRecentStayInsideTheBudget() async throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try await reopenedStore(dir, messages: 2000, headerBytes: 512)
        for _ in 0..<5 {
            _ = try await store.pending(queue: "a", limit: 10)
            #expect(store.cacheStatistics.bytes <= bound(held: 0, headerBytes: 512))
            #expect(try await store.recent(queue: "b", limit: 500).count == 500)
            #expect(store.cacheStatistics.bytes <= bound(held: 0, headerBytes: 512))
            _ = try await store.statistics(queue: "b")
            #expect(store.cacheStatistics.bytes <= bound(held: 0, headerBytes: 512))
        }
        // Still exact after the evictions.
        #expect(try await store.pending(queue: "a", limit: 3).map(\.id) == ["m0", "m2", "m4"])
        try await store.close()
    }
}
