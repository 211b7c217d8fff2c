import Foundation
import StrataMessageStore
import StrataSQLite
import Testing

/// The message-store names of ../shared/API.md, written the way a user
/// writes them (plain imports, no @testable): this file failing to compile
/// is an API break.
@Suite struct MessageStoreAPIContractTests {
    @Test func apiSnippetCompilesAndRuns() async throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try await LSMMessageStore.open(at: dir + "/store", options: MessageStoreOptions())
        try await store.initialize()
        let bytes: [UInt8] = [1, 2, 3]
        try await store.add(Message(id: "m1", queue: "orders", payload: bytes))
        let many = (2...4).map { Message(id: "m\($0)", queue: "orders", payload: bytes) }
        try await store.add(contentsOf: many)
        let m: Message? = try await store.get(id: "m1")
        #expect(m?.payload == bytes)
        let oldest: [Message] = try await store.pending(queue: "orders", limit: 100)
        #expect(oldest.map(\.id) == ["m1", "m2", "m3", "m4"])
        try await store.remove(id: "m1")
        try await store.backup(to: dir + "/b")
        try await store.restore(from: dir + "/b")
        try await store.compact()
        try await store.close()

        let backends: [any MessageStore] = [InMemoryMessageStore(), try SQLiteMessageStore(path: dir + "/s.sqlite")]
        for s in backends {
            try await s.initialize()
            try await s.add(Message(id: "x", queue: "q", payload: []))
            let fields = try #require(try await s.get(id: "x"))
            _ = (fields.id, fields.queue, fields.timestamp, fields.payload, fields.headers, fields.deliveryCount,
                 fields.scheduledAt, fields.expiresAt)
            try await s.close()
        }
    }
}
