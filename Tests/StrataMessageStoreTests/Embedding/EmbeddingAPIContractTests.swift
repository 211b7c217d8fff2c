import Foundation
import ServiceLifecycle
import ServiceLifecycleTestKit
import StrataMessageStore
import Testing

private func handle(_ message: Message) async throws {}

/// The "Embedding" names of ../shared/API.md, written as a user writes
/// them (plain import): this file failing to compile is an API break.
@Suite struct EmbeddingAPIContractTests {
    @Test func apiSnippetCompilesAndRuns() async throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = dir + "/strata.yaml"
        try "storage:\n  url: lsm:\(dir)/ops\n".write(toFile: file, atomically: true, encoding: .utf8)
        let config = try MessageStoreConfiguration(url: "lsm:\(dir)/store")
        let fromOps = try MessageStoreConfiguration.load(file: file, environment: ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("STRATA_") })
        #expect(fromOps.path == dir + "/ops")
        let store: any MessageStore = try await config.open()
        try await store.add(Message(id: "o1", queue: "orders", payload: []))
        let reader = Task {
            for try await received in store.messages(queue: "orders", lockDuration: nil) { try await store.complete(received.lockToken) }
        }
        while try await store.get(id: "o1") != nil { try await Task.sleep(for: .milliseconds(10)) }
        reader.cancel()
        try await reader.value
        let consumer = QueueConsumer(store: store, queue: "orders", maxConcurrent: 16) { message in try await handle(message) }
        let typed = QueueConsumer(store: store, queue: "orders") { (received: ReceivedMessage) in _ = received.lockToken }
        let untyped = QueueConsumer(store: store, queue: "orders") { _ in }
        try await testGracefulShutdown { trigger in
            try await withThrowingTaskGroup(of: Void.self) { g in
                for c in [consumer, typed, untyped] { g.addTask { try await c.run() } }
                trigger.triggerGracefulShutdown()
                try await g.waitForAll()
            }
        }
        let lastSeenId: String? = nil, oldestSeenId: String? = nil
        let page = try await store.pending(queue: "orders", after: lastSeenId, limit: 100)
        let history = try await store.recent(queue: "chat-42", before: oldestSeenId, limit: 50)
        let everything = try await store.allQueueNames()
        #expect(page.isEmpty && history.isEmpty && everything == ["orders"])
        try await store.close()
    }
}
