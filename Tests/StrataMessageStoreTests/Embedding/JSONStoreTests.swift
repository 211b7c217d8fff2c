import Foundation
import StrataMessageStore
import StrataTestSupport
import Testing

@Suite struct JSONStoreTests {
    func files(_ dir: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: dir + "/messages")) ?? []).sorted()
    }

    @Test func filesAreReadableAndSurviveAReopen() async throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try JSONFileMessageStore(directory: dir)
        try await store.createQueue("orders", settings: QueueSettings(maxDeliveryCount: 4))
        try await store.add(Message(id: "a", queue: "orders", payload: Array(#"{"n":1}"#.utf8), headers: ["k": "v"]))
        try await store.add(Message(id: "b", queue: "orders", payload: [0xff, 0x00]))
        let locked = try await store.receive(queue: "orders", limit: 1, lockDuration: .seconds(600))
        try await store.close()
        let text = try String(contentsOfFile: dir + "/" + files(dir).first { $0.hasSuffix(".json") }!.replacingOccurrences(of: "queue_", with: "messages/queue_"), encoding: .utf8)
        #expect(text.contains(#""payload" : "{\"n\":1}""#) && text.contains(#""payload_base64" : "/wA=""#))
        #expect(FileManager.default.fileExists(atPath: dir + "/entities/queues.json") && FileManager.default.fileExists(atPath: dir + "/state.json"))
        let reopened = try JSONFileMessageStore(directory: dir)
        #expect(try await reopened.pending(queue: "orders", limit: 10).map(\.payload) == [Array(#"{"n":1}"#.utf8), [0xff, 0]])
        #expect(try await reopened.queues().first?.settings.maxDeliveryCount == 4)
        try await reopened.complete(locked.map(\.lockToken))  // the lock survived the reopen
        try await reopened.close()
    }

    @Test func aCorruptedFileIsRecoveredFromItsNewestGoodRotation() async throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var o = JSONFileMessageStore.Options()
        o.backupCount = 3
        let store = try JSONFileMessageStore(directory: dir, options: o)
        for i in 0..<5 { try await store.add(Message(id: "m\(i)", queue: "q", payload: [UInt8(i)])) }
        try await store.close()
        let main = dir + "/" + "messages/" + files(dir).first { $0.hasSuffix(".json") }!
        #expect(FileManager.default.fileExists(atPath: main + ".3") && !FileManager.default.fileExists(atPath: main + ".4"))
        var bytes = try Array(Data(contentsOf: URL(fileURLWithPath: main)))
        bytes[bytes.count / 2] ^= 0x01
        try Data(bytes).write(to: URL(fileURLWithPath: main))
        let recovered = try JSONFileMessageStore(directory: dir, options: o)
        #expect(try await recovered.pending(queue: "q", limit: 10).map(\.id) == ["m0", "m1", "m2", "m3"])
        try await recovered.close()
        // Every copy bad: an error, never wrong data.
        for suffix in ["", ".1", ".2", ".3"] { try Data("{}".utf8).write(to: URL(fileURLWithPath: main + suffix)) }
        #expect(throws: MessageStoreError.self) { _ = try JSONFileMessageStore(directory: dir, options: o) }
    }

    /// A store in `dir` holding message m0 of queue q; returns its queue file's path in `dir`.
    func storeOfOneMessage(_ dir: String) async throws -> String {
        let store = try JSONFileMessageStore(directory: dir)
        try await store.add(Message(id: "m0", queue: "q", payload: []))
        try await store.close()
        return "messages/" + files(dir).first { $0.hasSuffix(".json") }!
    }

    @Test func anInterruptedSaveIsFinishedOrDiscardedOnOpen() async throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let rel = try await storeOfOneMessage(dir)
        // A crash after the .new file but before commit.json: discarded.
        try Data("garbage".utf8).write(to: URL(fileURLWithPath: dir + "/" + rel + ".new"))
        let s1 = try JSONFileMessageStore(directory: dir)
        #expect(try await s1.pending(queue: "q", limit: 10).map(\.id) == ["m0"])
        try await s1.add(Message(id: "m1", queue: "q", payload: []))
        try await s1.close()
        #expect(!FileManager.default.fileExists(atPath: dir + "/" + rel + ".new"))
        // A crash after commit.json: the new copy is installed on open.
        let newer = try Data(contentsOf: URL(fileURLWithPath: dir + "/" + rel))
        let older = try Data(contentsOf: URL(fileURLWithPath: dir + "/" + rel + ".1"))
        try older.write(to: URL(fileURLWithPath: dir + "/" + rel))
        try newer.write(to: URL(fileURLWithPath: dir + "/" + rel + ".new"))
        try Data(#"{"writes":["\#(rel)"],"removals":[]}"#.utf8).write(to: URL(fileURLWithPath: dir + "/commit.json"))
        let s2 = try JSONFileMessageStore(directory: dir)
        #expect(try await s2.pending(queue: "q", limit: 10).map(\.id) == ["m0", "m1"])
        #expect(!FileManager.default.fileExists(atPath: dir + "/commit.json"))
        try await s2.close()
    }

    @Test func debouncedSavesLandByClose() async throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var o = JSONFileMessageStore.Options()
        o.saveInterval = .seconds(3600)
        let store = try JSONFileMessageStore(directory: dir, options: o)
        try await store.add(contentsOf: (0..<50).map { Message(id: "m\($0)", queue: "q", payload: []) })
        #expect(files(dir).isEmpty, "saved before the interval")
        try await store.close()
        #expect(try await JSONFileMessageStore(directory: dir).pending(queue: "q", limit: 100).count == 50)
    }

    /// A read-only open (a tool reading a store a broker writes) neither
    /// finishes nor discards a save in progress, creates nothing, and
    /// refuses changes; a writable open would delete the `.new` file.
    @Test func aReadOnlyOpenLeavesAnotherProcesssSaveAlone() async throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let rel = try await storeOfOneMessage(dir)
        let inFlight = dir + "/" + rel + ".new"
        try Data("being written".utf8).write(to: URL(fileURLWithPath: inFlight))

        var o = JSONFileMessageStore.Options()
        o.readOnly = true
        let reader = try JSONFileMessageStore(directory: dir, options: o)
        #expect(try await reader.pending(queue: "q", limit: 10).map(\.id) == ["m0"])
        await #expect { try await reader.add(Message(id: "m1", queue: "q", payload: [])) } throws: {
            ($0 as? MessageStoreError)?.kind == .readOnly
        }
        try await reader.close()
        #expect(FileManager.default.fileExists(atPath: inFlight))

        // A save that stays under way (its commit.json is there): the load
        // waits for it a while, then reads what is there and leaves it.
        let marker = dir + "/commit.json"
        try Data(#"{"writes":["\#(rel)"],"removals":[]}"#.utf8).write(to: URL(fileURLWithPath: marker))
        let waited = try await offCooperativePool { [o] in try JSONFileMessageStore(directory: dir, options: o) }
        #expect(try await waited.pending(queue: "q", limit: 10).map(\.id) == ["m0"])
        try await waited.close()
        #expect(FileManager.default.fileExists(atPath: marker) && FileManager.default.fileExists(atPath: inFlight))

        #expect(throws: MessageStoreError.self) { _ = try JSONFileMessageStore(directory: dir + "/none", options: o) }
        #expect(!FileManager.default.fileExists(atPath: dir + "/none"))
    }
}
