import Foundation
import StrataMessageStore
import Testing

/// An LSM message store opened on the engine's read-only open
/// (`options.engine.readOnly`) while a writer holds it: what `strata
/// queues`, `storage stats` and `storage export` do on a broker's store.
@Suite struct ReadOnlyStoreTests {
    @Test func aReadOnlyStoreSeesTheWritersStateAndRefusesWrites() async throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let clock = ManualClock()
        var o = MessageStoreOptions()
        o.clock = clock.clock
        let writer = try await LSMMessageStore.open(at: dir + "/store", options: o)
        try await ExportFormatTests.populate(writer, clock: clock)
        try await MessageExport.export(writer, to: dir + "/writer.jsonl", format: .jsonl)

        var ro = o
        ro.engine.readOnly = true
        ro.logger.logLevel = .critical  // the refused write below is logged as an error
        let reader = try await LSMMessageStore.open(at: dir + "/store", options: ro)
        try await MessageExport.export(reader, to: dir + "/reader.jsonl", format: .jsonl)
        #expect(try ExportFormatTests.bytes(dir + "/reader.jsonl") == ExportFormatTests.bytes(dir + "/writer.jsonl"))
        #expect(try await reader.statistics(queue: "orders").deadLettered == 1)
        await #expect(throws: (any Error).self) { try await reader.add(Message(id: "new", queue: "orders", payload: [])) }
        try? await reader.close()

        // The writer is untouched and goes on.
        try await writer.add(Message(id: "after", queue: "plain", payload: [1]))
        #expect(try await writer.get(id: "after") != nil)
        try await writer.close()
    }

    /// `catchUp()` moves a read-only store forward: new messages, a new
    /// queue, completed messages and a moved queue head (range delete) of
    /// the writer show after it and not before.
    @Test func catchUpShowsTheWritersLaterChanges() async throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var o = MessageStoreOptions()
        o.rangeDeleteInterval = 2  // completing moves the recorded head
        let writer = try await LSMMessageStore.open(at: dir + "/store", options: o)
        try await writer.createQueue("a", settings: QueueSettings())
        try await writer.add(contentsOf: (0..<3).map { Message(id: "a\($0)", queue: "a", payload: [UInt8($0)]) })

        var ro = o
        ro.engine.readOnly = true
        let reader = try await LSMMessageStore.open(at: dir + "/store", options: ro)
        #expect(try await reader.statistics(queue: "a").active == 3)
        #expect(try await reader.pending(queue: "a", limit: 10).map(\.id) == ["a0", "a1", "a2"])
        #expect(try await reader.recent(queue: "a", limit: 10).map(\.id) == ["a2", "a1", "a0"])  // now held in memory
        #expect(try await reader.catchUp() == false)

        try await writer.add(contentsOf: (3..<6).map { Message(id: "a\($0)", queue: "a", payload: [UInt8($0)]) })
        for r in try await writer.receive(queue: "a", limit: 3) { try await writer.complete(r.lockToken) }
        try await writer.createQueue("b", settings: QueueSettings())
        try await writer.add(Message(id: "b0", queue: "b", payload: [9]))

        // As of the open until it catches up.
        #expect(try await reader.pending(queue: "a", limit: 10).map(\.id) == ["a0", "a1", "a2"])
        #expect(try await reader.queues().map(\.name) == ["a"])

        #expect(try await reader.catchUp() == true)
        #expect(try await reader.queues().map(\.name).sorted() == ["a", "b"])
        #expect(try await reader.statistics(queue: "a").active == 3)
        #expect(try await reader.pending(queue: "a", limit: 10).map(\.id) == ["a3", "a4", "a5"])
        // The cached newest-messages ring was dropped, not served stale.
        #expect(try await reader.recent(queue: "a", limit: 10).map(\.id) == ["a5", "a4", "a3"])
        #expect(try await reader.statistics(queue: "b").active == 1)
        #expect(try await reader.get(id: "a0") == nil)
        #expect(try await reader.catchUp() == false)

        // Only a read-only store catches up.
        await #expect(throws: MessageStoreError.self) { try await writer.catchUp() }
        try await reader.close()
        await #expect(throws: MessageStoreError.self) { try await reader.catchUp() }
        try await writer.close()
    }
}
