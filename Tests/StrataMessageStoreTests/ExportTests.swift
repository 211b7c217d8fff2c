import Foundation
import StrataMessageStore
import Testing

@Suite struct ExportTests {
    @Test(arguments: Backend.allCases)
    func exportImportMovesAStoreToEveryBackend(target: Backend) async throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let clock = ManualClock()
        let source = try await Backend.lsm.make(dir + "/src", clock: clock.clock)
        try await source.createQueue("q", settings: QueueSettings(lockDuration: .seconds(7), maxDeliveryCount: 2, defaultTimeToLive: .seconds(3600)))
        try await source.createTopic("t")
        try await source.createSubscription("s", topic: "t", settings: QueueSettings(), filter: SubscriptionFilter(headers: ["a": "1"]))
        try await source.add(contentsOf: (0..<5).map { Message(id: "m\($0)", queue: "q", payload: [UInt8($0)], timestamp: clock.now, headers: ["h": "\($0)"]) })
        try await source.add(Message(id: "later", queue: "q", payload: [], timestamp: clock.now, scheduledAt: clock.now.addingTimeInterval(60)))
        try await source.publish(Message(id: "p", queue: "t", payload: [1], timestamp: clock.now, headers: ["a": "1"]), topic: "t")
        let r = try await source.receive(queue: "q", limit: 1)
        try await source.deadLetter(r[0].lockToken, reason: "bad")
        try await MessageExport.export(source, to: dir + "/export.jsonl")
        try FileManager.default.createDirectory(atPath: dir + "/dst", withIntermediateDirectories: true)
        let target = try await target.make(dir + "/dst", clock: clock.clock)
        let summary = try await MessageExport.importFile(dir + "/export.jsonl", into: target, replace: false)
        #expect(summary == MessageExport.ImportSummary(entities: 2, messages: 7, duplicates: 0))
        #expect(try await target.queues() == source.queues())
        #expect(try await target.subscriptions(topic: "t") == source.subscriptions(topic: "t"))
        for q in ["q", EntityPath.deadLetterQueue(of: "q"), EntityPath.subscriptionQueue(topic: "t", subscription: "s")] {
            #expect(try await target.pending(queue: q, limit: 100) == source.pending(queue: q, limit: 100))
        }
        // Merge skips what is there; replace purges first.
        #expect(try await MessageExport.importFile(dir + "/export.jsonl", into: target, replace: false).duplicates == 7)
        try await source.close()
        try await target.close()
    }

    @Test func aDamagedExportIsRefusedWithItsLineNumber() async throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Data("{\"kind\":\"queue\",\"name\":\"q\",\"settings\":{\"lockDurationMs\":1000,\"maxDeliveryCount\":1,\"deadLetterOnExpiration\":false}}\n{oops\n".utf8)
            .write(to: URL(fileURLWithPath: dir + "/bad.jsonl"))
        let store = InMemoryMessageStore()
        await #expect(throws: MessageStoreError.self) { _ = try await MessageExport.importFile(dir + "/bad.jsonl", into: store, replace: false) }
        do {
            _ = try await MessageExport.importFile(dir + "/bad.jsonl", into: store, replace: false)
        } catch let e as MessageStoreError {
            #expect(e.kind == .corruption && e.message.contains("line 2"))
        }
    }
}
