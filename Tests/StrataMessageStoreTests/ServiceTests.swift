import Foundation
import ServiceLifecycle
import ServiceLifecycleTestKit
import StrataMessageStore
import Testing

@Suite struct MessageStoreServiceTests {
    @Test func gracefulShutdownClosesTheStoreAfterItsWork() async throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try await LSMMessageStore.open(at: dir + "/s")
        try await store.add(Message(id: "kept", queue: "q", payload: [1]))
        let service = MessageStoreService(store: store)
        try await testGracefulShutdown { trigger in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await service.run() }
                // The store works until shutdown is requested.
                try await store.add(Message(id: "also", queue: "q", payload: [2]))
                trigger.triggerGracefulShutdown()
                try await group.waitForAll()
            }
        }
        await #expect(throws: MessageStoreError.self) { try await store.add(Message(id: "late", queue: "q", payload: [])) }
        let reopened = try await LSMMessageStore.open(at: dir + "/s")
        #expect(try await reopened.pending(queue: "q", limit: 10).map(\.id) == ["kept", "also"])
        try await reopened.close()
    }
}
