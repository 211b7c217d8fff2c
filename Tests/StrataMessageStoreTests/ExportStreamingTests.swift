import Foundation
@testable import StrataMessageCore
import StrataMessageStore
import Testing

/// Export at any size: a queue is read a page at a time through
/// `pending(queue:after:limit:)`, so memory stays at one page; the stream is
/// still every message, in pending order.
@Suite struct ExportStreamingTests {
    static func id(_ i: Int) -> String { "m" + String(repeating: "0", count: 5 - String(i).count) + String(i) }

    /// A queue more than two pages long exports completely and in order, on
    /// every backend, with a progress call per page.
    @Test(arguments: Backend.allCases)
    func aQueueLongerThanAPageExportsCompleteAndInOrder(backend: Backend) async throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let store = try await backend.make(dir)
        let n = MessageExport.pageSize * 2 + 37
        for start in stride(from: 0, to: n, by: 250) {
            try await store.add(contentsOf: (start..<min(n, start + 250)).map { Message(id: Self.id($0), queue: "big", payload: [UInt8($0 & 0xFF)]) })
        }
        let path = dir + "/big.jsonl"
        let calls = StoreLock<[Int]>([])
        let written = try await MessageExport.export(store, to: path, format: .jsonl) { p in calls.withLock { $0.append(p.messages) } }
        #expect(written == n)
        let records = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map {
            try JSONDecoder().decode(MessageExport.Record.self, from: Data($0.utf8))
        }
        let messages = records.filter { $0.kind == "message" }
        #expect(messages.map(\.id) == (0..<n).map { Self.id($0) })
        #expect(messages.allSatisfy { $0.queue == "big" })
        let progress = calls.withLock { $0 }
        #expect(progress.last == n)
        #expect(progress.count >= 3, "one progress call per page: \(progress)")
        #expect(zip([0] + progress, progress).allSatisfy { $1 - $0 <= MessageExport.pageSize })
        try await store.close()
    }

    /// The pages chain: each is at most the page size, and together they are
    /// exactly what one unbounded `pending` call returns (scheduled messages
    /// and same-millisecond ties included).
    @Test(arguments: Backend.allCases)
    func pagesChainToTheWholeQueue(backend: Backend) async throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let store = try await backend.make(dir)
        let now = Date()
        try await store.add(contentsOf: (0..<40).map { Message(id: Self.id($0), queue: "q", payload: [], timestamp: now) })
        try await store.add(contentsOf: (40..<50).map {
            Message(id: Self.id($0), queue: "q", payload: [], timestamp: now, scheduledAt: now.addingTimeInterval(Double(60 - $0)))
        })
        var pages: [[Message]] = []
        try await MessageExport.forEachPage(of: "q", in: store, pageSize: 7) { pages.append($0) }
        #expect(pages.allSatisfy { $0.count <= 7 && !$0.isEmpty })
        #expect(pages.count == 8)
        let whole = try await store.pending(queue: "q", limit: .max)
        #expect(whole.count == 50)
        #expect(pages.flatMap { $0 }.map(\.id) == whole.map(\.id))
        try await store.close()
    }
}
