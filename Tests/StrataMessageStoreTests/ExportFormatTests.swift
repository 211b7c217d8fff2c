import Foundation
import StrataMessageCore
import StrataMessageStore
import Testing

/// Export/import in both formats on every backend: CSV → backend → CSV and
/// JSONL → backend → JSONL are byte-identical, `replace` leaves the store
/// equal to the file (entities, messages, duplicate windows), bad files are
/// refused before the store changes.
@Suite struct ExportFormatTests {
    /// A store with what an export must carry: queue settings, a topic with
    /// a filtered subscription, headers that need quoting, a scheduled
    /// message, a dead letter, a delivery count, an acknowledged id inside
    /// its duplicate window.
    static func populate(_ store: any MessageStore, clock: ManualClock) async throws {
        try await store.createQueue("orders", settings: QueueSettings(lockDuration: .seconds(7), maxDeliveryCount: 2,
                                                                       duplicateDetectionWindow: .seconds(3600)))
        try await store.createQueue("plain", settings: QueueSettings())
        try await store.createTopic("events")
        try await store.createSubscription("eu", topic: "events", settings: QueueSettings(), filter: SubscriptionFilter(headers: ["region": "eu"]))
        var messages: [Message] = []
        for i in 0..<7 {
            messages.append(Message(id: "o\(i)", queue: "orders", payload: Array("payload, \"\(i)\"\n".utf8),
                                    timestamp: clock.now.addingTimeInterval(Double(i - 7) * 0.001),
                                    headers: ["h": "a,b \"quoted\"\nline", "n": "\(i)"]))
        }
        messages.append(Message(id: "later", queue: "orders", payload: [], timestamp: clock.now, scheduledAt: clock.now.addingTimeInterval(60),
                                expiresAt: clock.now.addingTimeInterval(7200)))
        messages.append(Message(id: "id,with\"odd\nchars", queue: "plain", payload: [0, 255, 10, 44]))
        try await store.add(contentsOf: messages)
        _ = try await store.publish(Message(id: "e1", queue: "events", payload: [1], timestamp: clock.now, headers: ["region": "eu"]), topic: "events")
        // o0 acknowledged: its id stays in the duplicate window.
        let first = try await store.receive(queue: "orders", limit: 2)
        try #require(first.map(\.message.id) == ["o0", "o1"])
        try await store.complete(first[0].lockToken)
        // o1 abandoned once (delivery count 1), then dead-lettered.
        try await store.abandon(first[1].lockToken)
        let again = try await store.receive(queue: "orders", limit: 1)
        try #require(again.map(\.message.id) == ["o1"])
        try await store.deadLetter(again[0].lockToken, reason: "bad")
    }

    static func bytes(_ path: String) throws -> [UInt8] { Array(try Data(contentsOf: URL(fileURLWithPath: path))) }

    @Test(arguments: Backend.allCases, MessageExport.Format.allCases)
    func exportImportExportIsByteIdentical(backend: Backend, format: MessageExport.Format) async throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let clock = ManualClock()
        let source = InMemoryMessageStore(clock: clock.clock)
        try await Self.populate(source, clock: clock)
        let first = dir + "/first.\(format.rawValue)", second = dir + "/second.\(format.rawValue)"
        let written = try await MessageExport.export(source, to: first, format: format)
        #expect(written == 9)
        try FileManager.default.createDirectory(atPath: dir + "/dst", withIntermediateDirectories: true)
        let target = try await backend.make(dir + "/dst", clock: clock.clock)
        let summary = try await MessageExport.importFile(first, into: target, format: format, replace: false)
        #expect(summary == MessageExport.ImportSummary(entities: 3, messages: 9, duplicates: 0, windows: 1))
        try await MessageExport.export(target, to: second, format: format)
        let (want, got) = (try Self.bytes(first), try Self.bytes(second))
        #expect(want == got, "\(backend) \(format): \(String(decoding: got, as: UTF8.self))")
        // The marker works: o0 is refused inside its window.
        await #expect(throws: MessageStoreError.self) { try await target.add(Message(id: "o0", queue: "orders", payload: [])) }
        try await target.close()
    }

    @Test(arguments: Backend.allCases)
    func replaceLeavesTheStoreEqualToTheFile(backend: Backend) async throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let clock = ManualClock()
        let source = InMemoryMessageStore(clock: clock.clock)
        try await Self.populate(source, clock: clock)
        try await MessageExport.export(source, to: dir + "/want.csv", format: .csv)

        // The target holds other entities, other messages, and markers for
        // ids the file carries as stored messages (the bug: replace kept
        // them, so those messages were skipped as duplicates).
        try FileManager.default.createDirectory(atPath: dir + "/dst", withIntermediateDirectories: true)
        let target = try await backend.make(dir + "/dst", clock: clock.clock)
        try await target.createQueue("orders", settings: QueueSettings(duplicateDetectionWindow: .seconds(86400)))
        try await target.createQueue("stale", settings: QueueSettings())
        try await target.createTopic("old-topic")
        try await target.add(contentsOf: ["o2", "o3", "stray"].map { Message(id: $0, queue: "orders", payload: [9], timestamp: clock.now) })
        try await target.add(Message(id: "s1", queue: "stale", payload: [1]))
        for r in try await target.receive(queue: "orders", limit: 10) { try await target.complete(r.lockToken) }

        let summary = try await MessageExport.importFile(dir + "/want.csv", into: target, format: .csv, replace: true)
        #expect(summary.messages == 9 && summary.duplicates == 0 && summary.windows == 1)
        try await MessageExport.export(target, to: dir + "/got.csv", format: .csv)
        let (want, got) = (try Self.bytes(dir + "/want.csv"), try Self.bytes(dir + "/got.csv"))
        #expect(want == got, "\(backend): \(String(decoding: got, as: UTF8.self))")
        // The old window markers are gone with the rest: "stray" can be added again.
        try await target.add(Message(id: "stray", queue: "orders", payload: []))
        try await target.close()
    }

    @Test(arguments: Backend.allCases)
    func aBadFileChangesNothingEvenWithReplace(backend: Backend) async throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let clock = ManualClock()
        try FileManager.default.createDirectory(atPath: dir + "/dst", withIntermediateDirectories: true)
        let target = try await backend.make(dir + "/dst", clock: clock.clock)
        try await target.createQueue("keep", settings: QueueSettings())
        try await target.add(Message(id: "k", queue: "keep", payload: [1]))
        let csv = "kind,id,queue,timestamp,scheduledAt,expiresAt,deliveryCount,headers,payload,definition\n" + "message,m1,q,1800000000,,,0,,AAA=,\nmessage,m2,q,not-a-time,,,0,,AAA=,\n"
        try Data(csv.utf8).write(to: URL(fileURLWithPath: dir + "/bad.csv"))
        do {
            _ = try await MessageExport.importFile(dir + "/bad.csv", into: target, format: .csv, replace: true)
            Issue.record("a bad CSV was imported")
        } catch let e as MessageStoreError {
            #expect(e.kind == .corruption && e.message.contains("line 3"), "\(e)")
        }
        #expect(try await target.pending(queue: "keep", limit: 10).map(\.id) == ["k"])
        try await target.close()
    }

    @Test func csvFieldsWithQuotesCommasAndLineBreaksSurvive() async throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = InMemoryMessageStore()
        let odd = Message(id: "a\"b,c\r\nd", queue: "q", payload: Array("x".utf8), headers: ["k,\"": "v\n\"w\""])
        try await store.add(odd)
        try await MessageExport.export(store, to: dir + "/x.csv", format: .csv)
        let copy = InMemoryMessageStore()
        _ = try await MessageExport.importFile(dir + "/x.csv", into: copy, format: nil, replace: false)
        let got = try await copy.get(id: odd.id)
        #expect(got?.headers == odd.headers && got?.payload == odd.payload)
    }

    @Test func progressIsReported() async throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = InMemoryMessageStore()
        try await store.add(contentsOf: (0..<1200).map { Message(id: "m\($0)", queue: "q", payload: [UInt8($0 & 0xFF)]) })
        let seen = ProgressLog()
        try await MessageExport.export(store, to: dir + "/p.jsonl", format: .jsonl) { seen.append($0.messages) }
        #expect(seen.values == [500, 1000, 1200])
        let imported = ProgressLog()
        _ = try await MessageExport.importFile(dir + "/p.jsonl", into: InMemoryMessageStore(), format: .jsonl, replace: false) { imported.append(Int($0.bytes)) }
        #expect(imported.values.count == 3 && imported.values == imported.values.sorted())
    }
}

/// Values a progress callback saw.
final class ProgressLog: Sendable {
    private let seen = StoreLock<[Int]>([])
    func append(_ v: Int) { seen.withLock { $0.append(v) } }
    var values: [Int] { seen.withLock { $0 } }
}
