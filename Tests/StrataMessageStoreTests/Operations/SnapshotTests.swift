import Foundation
import Strata
import StrataMessageStore
import StrataPostgres
import StrataSQLite
import Testing

/// Sets a store's snapshot retention, whatever its backend.
func setMaxSnapshots(_ store: any MessageStore, _ n: Int) {
    switch store {
    case let s as LSMMessageStore: s.snapshotOptions.maxSnapshots = n
    case let s as SQLiteMessageStore: s.snapshotOptions.maxSnapshots = n
    case let s as PostgresMessageStore: s.snapshotOptions.maxSnapshots = n
    case let s as InMemoryMessageStore: s.snapshotOptions.maxSnapshots = n
    case let s as JSONFileMessageStore: s.snapshotOptions.maxSnapshots = n
    default: Issue.record("no snapshot options on \(type(of: store))")
    }
}

@Suite struct SnapshotTests {
    @Test(arguments: Backend.allCases)
    func createListRestoreDelete(backend: Backend) async throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try await backend.make(dir)
        try await store.add(Message(id: "m1", queue: "q", payload: [1]))
        try await store.add(Message(id: "m2", queue: "q", payload: [2]))
        let a = try await store.createSnapshot(name: "before-upgrade")
        #expect(a.name == "before-upgrade")
        #expect(a.bytes > 0)
        try await store.add(Message(id: "m3", queue: "q", payload: [3]))
        try await store.remove(id: "m1")
        try await store.createSnapshot(name: "after")
        #expect(try await store.snapshots().map(\.name) == ["before-upgrade", "after"])

        try await store.restoreSnapshot(name: "before-upgrade")
        #expect(try await store.pending(queue: "q", limit: 10).map(\.id) == ["m1", "m2"])
        try await store.restoreSnapshot(name: "after")
        #expect(try await store.pending(queue: "q", limit: 10).map(\.id) == ["m2", "m3"])
        // The store keeps working after a restore.
        try await store.add(Message(id: "m4", queue: "q", payload: [4]))
        #expect(try await store.pending(queue: "q", limit: 10).map(\.id) == ["m2", "m3", "m4"])

        try await store.deleteSnapshot(name: "before-upgrade")
        #expect(try await store.snapshots().map(\.name) == ["after"])
        try await expectKind(.notFound) { try await store.deleteSnapshot(name: "before-upgrade") }
        try await expectKind(.notFound) { try await store.restoreSnapshot(name: "never") }
        try await expectKind(.alreadyExists) { try await store.createSnapshot(name: "after") }
        for bad in ["", "../escape", ".hidden", "a/b", String(repeating: "x", count: 129), "naïve"] {
            try await expectKind(.invalidArgument) { try await store.createSnapshot(name: bad) }
        }
        try await store.close()
    }

    @Test(arguments: Backend.allCases)
    func retentionKeepsTheNewest(backend: Backend) async throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try await backend.make(dir)
        setMaxSnapshots(store, 2)
        for i in 1...4 {
            try await store.add(Message(id: "m\(i)", queue: "q", payload: [UInt8(i)]))
            try await store.createSnapshot(name: "s\(i)")
        }
        #expect(try await store.snapshots().map(\.name) == ["s3", "s4"])
        try await store.restoreSnapshot(name: "s3")
        #expect(try await store.pending(queue: "q", limit: 10).map(\.id) == ["m1", "m2", "m3"])
        try await store.close()
    }

    @Test(arguments: Backend.allCases.filter { $0 != .memory })
    func snapshotsSurviveReopen(backend: Backend) async throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var store = try await backend.make(dir)
        try await store.add(Message(id: "m1", queue: "q", payload: [1]))
        let info = try await store.createSnapshot(name: "one")
        try await store.close()
        store = try await backend.make(dir)
        let listed = try await store.snapshots()
        #expect(listed.map(\.name) == ["one"])
        #expect(listed.first?.bytes == info.bytes)
        #expect(abs((listed.first?.date.timeIntervalSince1970 ?? 0) - info.date.timeIntervalSince1970) < 1)
        try await store.remove(id: "m1")
        try await store.restoreSnapshot(name: "one")
        #expect(try await store.get(id: "m1")?.payload == [1])
        try await store.close()
    }

    /// Concurrent creates (and a retention pass between them) neither lose
    /// a snapshot nor clean up each other's work in progress.
    @Test(arguments: Backend.allCases)
    func concurrentCreates(backend: Backend) async throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try await backend.make(dir)
        try await store.add(Message(id: "m1", queue: "q", payload: [1]))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<6 { group.addTask { try await store.createSnapshot(name: "c\(i)") } }
            try await group.waitForAll()
        }
        #expect(Set(try await store.snapshots().map(\.name)) == Set((0..<6).map { "c\($0)" }))
        for i in 0..<6 {
            try await store.restoreSnapshot(name: "c\(i)")
            #expect(try await store.get(id: "m1")?.payload == [1])
        }
        try await store.close()
    }

    @Test func snapshotServiceNamesAndKeeps() async throws {
        let store = InMemoryMessageStore()
        let hub = StoreEventHub()
        let events = hub.subscribe()
        let service = SnapshotService(store: store, interval: .seconds(3600), prefix: "auto-", keep: 2, events: hub)
        try await store.createSnapshot(name: "manual")
        var made: [String] = []
        for _ in 0..<3 { made.append(try await service.snapshotNow().name) }
        #expect(Set(made).count == 3)
        #expect(made.allSatisfy { $0.hasPrefix("auto-") })
        // The manual snapshot is not the service's to delete.
        #expect(try await store.snapshots().map(\.name) == ["manual"] + made.suffix(2))
        hub.finish()
        var kinds: [String] = []
        for await e in events { kinds.append("\(e.kind)".components(separatedBy: "(").first ?? "") }
        #expect(kinds == ["snapshotCreated", "snapshotCreated", "snapshotCreated", "snapshotDeleted"])
    }

    /// Running, the service snapshots by itself and stops on cancellation.
    @Test func snapshotServiceRunsPeriodically() async throws {
        let store = InMemoryMessageStore()
        let hub = StoreEventHub()
        let events = hub.subscribe()
        let service = SnapshotService(store: store, interval: .milliseconds(5), keep: 2, events: hub)
        let running = Task { try await service.run() }
        var created = 0
        for await e in events {
            if case .snapshotCreated = e.kind { created += 1 }
            if created == 3 { break }
        }
        running.cancel()
        _ = await running.result
        let kept = try await store.snapshots()
        #expect(kept.count <= 3 && kept.count >= 2)
        #expect(kept.allSatisfy { $0.name.hasPrefix("auto-") })
    }

    @Test func snapshotServiceWithIntervalZeroIsOff() async throws {
        let store = InMemoryMessageStore()
        try await SnapshotService(store: store, interval: .zero).run()
        #expect(try await store.snapshots().isEmpty)
    }
}

/// Expects `body` to throw a `MessageStoreError` of `kind`.
func expectKind(_ kind: MessageStoreError.Kind, sourceLocation: SourceLocation = #_sourceLocation,
                _ body: () async throws -> Void) async throws {
    do {
        try await body()
        Issue.record("expected \(kind), nothing thrown", sourceLocation: sourceLocation)
    } catch let e as MessageStoreError {
        #expect(e.kind == kind, "\(e)", sourceLocation: sourceLocation)
    }
}
