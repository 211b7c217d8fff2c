import Foundation
import Strata
import StrataMessageStore
import StrataSQLite
import StrataPostgres
import Testing

/// The contract every backend must meet, run once per backend.
enum Backend: String, CaseIterable, Sendable {
    case memory, lsm, sqlite, postgres, json

    /// Every backend this run can reach: PostgreSQL when `make test` started
    /// a server and exported STRATA_POSTGRES_URL.
    static var allCases: [Backend] {
        ProcessInfo.processInfo.environment["STRATA_POSTGRES_URL"] == nil ? [.memory, .lsm, .sqlite, .json] : [.memory, .lsm, .sqlite, .postgres, .json]
    }

    /// Table prefix of a PostgreSQL store, derived from the test's directory
    /// so a restart finds the same tables and tests never share any.
    static func tablePrefix(_ dir: String) -> String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in dir.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return "t\(String(h, radix: 16))_"
    }

    func make(_ dir: String, clock: MessageClock = .system) async throws -> any MessageStore {
        switch self {
        case .memory: return InMemoryMessageStore(clock: clock)
        case .lsm:
            var options = MessageStoreOptions()
            options.clock = clock
            options.rangeDeleteInterval = 8
            return try await LSMMessageStore.open(at: dir + "/store", options: options)
        case .sqlite:
            return try SQLiteMessageStore(path: dir + "/store.sqlite", clock: clock)
        case .postgres:
            let url = ProcessInfo.processInfo.environment["STRATA_POSTGRES_URL"] ?? ""
            // A live server: the wait only bounds a hang. In the whole
            // suite's first minute a pool has waited over 30 s for the
            // cooperative pool to run it (CI, 2026-12-03).
            return try await PostgresMessageStore(configuration: PostgresConfiguration(connectionString: url, tablePrefix: Self.tablePrefix(dir),
                                                                                 connectionWait: .seconds(180)),
                                            clock: clock)
        case .json:
            var options = JSONFileMessageStore.Options()
            options.clock = clock
            return try JSONFileMessageStore(directory: dir + "/json", options: options)
        }
    }
}

func temporaryDirectory() -> String {
    let d = NSTemporaryDirectory() + "strata-ms-\(UUID().uuidString)"
    try? FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
    return d
}

@Suite struct MessageStoreContractTests {
    @Test(arguments: Backend.allCases)
    func addGetRemovePendingInOrder(backend: Backend) async throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try await backend.make(dir)
        try await store.initialize()
        let t0 = Date(timeIntervalSince1970: 1_700_000_000)
        try await store.add(Message(id: "m2", queue: "orders", payload: [2], timestamp: t0.addingTimeInterval(1)))
        try await store.add(Message(id: "m1", queue: "orders", payload: [1], timestamp: t0, headers: ["k": "v"]))
        try await store.add(Message(id: "m3", queue: "orders", payload: [3], timestamp: t0.addingTimeInterval(1)))
        try await store.add(Message(id: "x", queue: "other", payload: [9], timestamp: t0))
        #expect(try await store.get(id: "m1")?.headers == ["k": "v"])
        #expect(try await store.pending(queue: "orders", limit: 10).map(\.id) == ["m1", "m2", "m3"])
        #expect(try await store.pending(queue: "orders", limit: 2).map(\.id) == ["m1", "m2"])
        #expect(try await store.pending(queue: "order", limit: 10).isEmpty)  // a prefix of a queue name is another queue
        await #expect(throws: MessageStoreError.self) { try await store.add(Message(id: "m1", queue: "orders", payload: [])) }
        try await store.remove(id: "m1")
        try await store.remove(id: "never")
        #expect(try await store.get(id: "m1") == nil)
        #expect(try await store.pending(queue: "orders", limit: 10).map(\.id) == ["m2", "m3"])
        try await store.close()
    }

    @Test(arguments: Backend.allCases)
    func batchIsAllOrNothing(backend: Backend) async throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try await backend.make(dir)
        try await store.add(Message(id: "a", queue: "q", payload: []))
        await #expect(throws: MessageStoreError.self) {
            try await store.add(contentsOf: [Message(id: "b", queue: "q", payload: []), Message(id: "a", queue: "q", payload: [])])
        }
        #expect(try await store.get(id: "b") == nil)
        try await store.add(contentsOf: (0..<50).map { Message(id: "n\($0)", queue: "q", payload: [UInt8($0)]) })
        #expect(try await store.pending(queue: "q", limit: 100).count == 51)
        try await store.close()
    }

    @Test(arguments: Backend.allCases)
    func backupAndRestore(backend: Backend) async throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try await backend.make(dir)
        try await store.add(Message(id: "kept", queue: "q", payload: [1]))
        try await store.backup(to: dir + "/backup")
        try await store.add(Message(id: "later", queue: "q", payload: [2]))
        try await store.remove(id: "kept")
        try await store.restore(from: dir + "/backup")
        #expect(try await store.get(id: "kept")?.payload == [1])
        #expect(try await store.get(id: "later") == nil)
        try await store.compact()
        try await store.close()
    }

    /// Issue 12 item 4: a derived name (`…/subscriptions/…`, `…/$deadletterqueue`)
    /// takes messages only while the entity it derives from exists; anything
    /// else is refused with one error on every backend and stores nothing.
    @Test(arguments: Backend.allCases)
    func derivedQueueNamesTakeMessagesOnlyForTheirEntity(backend: Backend) async throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try await backend.make(dir)
        try await store.initialize()
        try await store.createTopic("t")
        let refused: [(String, MessageStoreError.Kind)] = [
            ("t/subscriptions/nobody", .notFound),              // topic exists, subscription does not
            ("x/subscriptions/s", .notFound),                   // no such topic
            ("q/$deadletterqueue", .notFound),                  // base queue unknown
            ("t/subscriptions/nobody/$deadletterqueue", .notFound),
            ("q/$deadletterqueue/$deadletterqueue", .invalidArgument),
        ]
        for (i, (queue, kind)) in refused.enumerated() {
            try await expectKind(kind) { try await store.add(Message(id: "r\(i)", queue: queue, payload: [1])) }
            // In a batch with a valid message: the whole batch is refused.
            try await expectKind(kind) {
                try await store.add(contentsOf: [Message(id: "ok\(i)", queue: "plain", payload: []), Message(id: "r\(i)", queue: queue, payload: [])])
            }
            #expect(try await store.get(id: "r\(i)") == nil)
            #expect(try await store.get(id: "ok\(i)") == nil)
            #expect(try await store.pending(queue: queue, limit: 10).isEmpty)
        }
        #expect(try await store.queues().isEmpty)
        // Topics with derived names cannot exist, so publishing to one finds nothing.
        try await expectKind(.notFound) { _ = try await store.publish([Message(id: "p", queue: "x", payload: [])], topic: "q/$deadletterqueue") }

        // Once the entities exist, their derived queues take messages (import relies on it).
        try await store.createQueue("q", settings: QueueSettings())
        try await store.createSubscription("s", topic: "t", settings: QueueSettings(), filter: SubscriptionFilter())
        for (i, queue) in ["q/$deadletterqueue", "t/subscriptions/s", "t/subscriptions/s/$deadletterqueue"].enumerated() {
            try await store.add(Message(id: "a\(i)", queue: queue, payload: [2]))
            #expect(try await store.pending(queue: queue, limit: 10).map(\.id) == ["a\(i)"])
        }
        #expect(try await store.queues().map(\.name) == ["q"])
        // Deleting the subscription closes its queue again.
        try await store.deleteSubscription("s", topic: "t")
        try await expectKind(.notFound) { try await store.add(Message(id: "late", queue: "t/subscriptions/s", payload: [])) }
        try await store.close()
    }

    @Test func lsmStoreSurvivesRestart() async throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        do {
            let store = try await LSMMessageStore.open(at: dir + "/store")
            for i in 0..<100 { try await store.add(Message(id: "m\(i)", queue: "q", payload: [UInt8(i)])) }
            for i in 0..<50 { try await store.remove(id: "m\(i)") }
            try await store.close()
        }
        let store = try await LSMMessageStore.open(at: dir + "/store")
        let pending = try await store.pending(queue: "q", limit: 1000)
        #expect(pending.map(\.id) == (50..<100).map { "m\($0)" })
        try await store.add(Message(id: "new", queue: "q", payload: []))
        #expect(try await store.pending(queue: "q", limit: 1000).last?.id == "new")
        try await store.close()
    }

    @Test func concurrentProducersShareTheStore() async throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try await LSMMessageStore.open(at: dir + "/store")
        try await withThrowingTaskGroup(of: Void.self) { group in
            for p in 0..<16 {
                group.addTask {
                    for i in 0..<25 { try await store.add(Message(id: "p\(p)-\(i)", queue: "q", payload: [])) }
                }
            }
            try await group.waitForAll()
        }
        #expect(try await store.pending(queue: "q", limit: 1000).count == 400)
        try await store.close()
    }
}

@Suite struct DuplicateIdTests {
    @Test(arguments: Backend.allCases)
    func concurrentAddsOfOneIdStoreItOnce(backend: Backend) async throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try await backend.make(dir)
        let successes = try await withThrowingTaskGroup(of: Bool.self) { group in
            for i in 0..<16 {
                group.addTask {
                    do {
                        try await store.add(Message(id: "same", queue: "q", payload: [UInt8(i)]))
                        return true
                    } catch let e as MessageStoreError where e.kind == .duplicateId {
                        return false
                    }
                }
            }
            var n = 0
            for try await ok in group where ok { n += 1 }
            return n
        }
        #expect(successes == 1)
        #expect(try await store.pending(queue: "q", limit: 100).count == 1)
        try await store.close()
    }
}
