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
}
