import Foundation
import Strata
@testable import StrataMessageStore
import StrataSQLite
import Testing

/// Issue 12's holes, each closed on every backend it concerns: reserved
/// names, cancellation of long polls, the error vocabulary, engine options
/// reaching the store's column families.
@Suite struct HardeningTests {
    /// The backends a test can reach without a server, plus PostgreSQL when
    /// `make test` runs one.
    static let backends = Backend.allCases

    func expectKind(_ kind: MessageStoreError.Kind, _ body: () async throws -> Void,
                    sourceLocation: SourceLocation = #_sourceLocation) async {
        do {
            try await body()
            Issue.record("expected a \(kind) error, got none", sourceLocation: sourceLocation)
        } catch let e as MessageStoreError {
            #expect(e.kind == kind, "\(e)", sourceLocation: sourceLocation)
        } catch {
            Issue.record("expected MessageStoreError(\(kind)), got \(type(of: error)): \(error)", sourceLocation: sourceLocation)
        }
    }

    @Test(arguments: backends)
    func derivedNamesAreRefusedForUserEntities(backend: Backend) async throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try await backend.make(dir)
        try await store.initialize()
        try await store.createTopic("t")
        for name in ["x/$deadletterqueue", "t/subscriptions/s", "a/subscriptions/b/c"] {
            await expectKind(.invalidArgument) { try await store.createQueue(name, settings: QueueSettings()) }
            await expectKind(.invalidArgument) { try await store.createTopic(name) }
            await expectKind(.invalidArgument) {
                try await store.createSubscription(name, topic: "t", settings: QueueSettings(), filter: SubscriptionFilter())
            }
        }
        // Nothing was created, and plain names still work.
        #expect(try await store.queues().isEmpty)
        #expect(try await store.topics() == ["t"])
        try await store.createQueue("x", settings: QueueSettings())
        // A message sent to a derived name without its entity is refused
        // (MessageStoreContractTests.derivedQueueNamesTakeMessagesOnlyForTheirEntity).
        await expectKind(.notFound) { try await store.add(Message(id: "d", queue: "x/subscriptions/nobody", payload: [])) }
        #expect(try await store.queues().map(\.name) == ["x"])
        try await store.close()
    }

    @Test(.timeLimit(.minutes(1)), arguments: backends)
    func cancellationEndsALongPollWithCancellationError(backend: Backend) async throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try await backend.make(dir)
        try await store.initialize()
        try await store.createQueue("q", settings: QueueSettings())
        // An hour of waiting: only cancellation can end it inside the limit.
        let poll = Task { try await store.receive(queue: "q", limit: 1, lockDuration: nil, maxWait: .seconds(3600)) }
        try await Task.sleep(for: .milliseconds(100))  // usually parked by now; either way it must end
        poll.cancel()
        await #expect(throws: CancellationError.self) { _ = try await poll.value }
        // The store still serves receives afterwards.
        try await store.add(Message(id: "m", queue: "q", payload: []))
        #expect(try await store.receive(queue: "q", limit: 1, lockDuration: nil, maxWait: .seconds(5)).map(\.message.id) == ["m"])
        try await store.close()
    }

    @Test(.timeLimit(.minutes(1)), arguments: backends)
    func aLongPollReturnsTheMessageThatArrives(backend: Backend) async throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try await backend.make(dir)
        try await store.initialize()
        let poll = Task { try await store.receive(queue: "q", limit: 5, lockDuration: nil, maxWait: .seconds(3600)) }
        try await Task.sleep(for: .milliseconds(50))
        try await store.add(Message(id: "late", queue: "q", payload: [1]))
        #expect(try await poll.value.map(\.message.id) == ["late"])
        try await store.close()
    }

    @Test func enospcInTheEngineIsStorageFullThenReadOnly() async throws {
        let fs = FaultInjectionFileSystem(seed: 11)
        var options = MessageStoreOptions()
        options.engine.fileSystem = fs
        options.logger.logLevel = .critical
        let store = try await LSMMessageStore.open(at: "/store", options: options)
        try await store.add(Message(id: "a", queue: "q", payload: [1]))
        fs.inject(FaultRule([.write], failure: .noSpace))
        do {
            try await store.add(Message(id: "b", queue: "q", payload: [2]))
            Issue.record("the write under ENOSPC succeeded")
        } catch let e as MessageStoreError {
            #expect(e.kind == .storageFull, "\(e)")
            #expect(e.underlying is StrataError, "the engine's error is kept as context")
        }
        fs.clearFaults()
        // The engine stopped writing after the failure: the broker is told to reopen.
        await expectKind(.readOnly) { try await store.add(Message(id: "c", queue: "q", payload: [3])) }
        #expect(try await store.get(id: "a") != nil)
        try? await store.close()
        await expectKind(.closed) { _ = try await store.get(id: "a") }
    }

    @Test func otherEngineErrorsAreMappedToo() async throws {
        let fs = FaultInjectionFileSystem(seed: 12)
        var options = MessageStoreOptions()
        options.engine.fileSystem = fs
        options.logger.logLevel = .critical
        let store = try await LSMMessageStore.open(at: "/store", options: options)
        fs.inject(FaultRule([.sync]))
        await expectKind(.ioError) { try await store.add(Message(id: "b", queue: "q", payload: [2])) }
        fs.clearFaults()
        // A second open of a directory another store holds is transient.
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let first = try await LSMMessageStore.open(at: dir + "/s")
        await expectKind(.unavailable) { _ = try await LSMMessageStore.open(at: dir + "/s") }
        try await first.close()
        try? await store.close()
    }

    @Test func aFullSQLiteDatabaseIsStorageFull() async throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try SQLiteMessageStore(path: dir + "/s.sqlite")
        try await store.add(Message(id: "first", queue: "q", payload: []))
        // SQLite's own size limit fails inserts with SQLITE_FULL, as a full disk does.
        try await store.executeForTesting("PRAGMA max_page_count = 8")
        var failure: MessageStoreError?
        for i in 0..<200 where failure == nil {
            do { try await store.add(Message(id: "m\(i)", queue: "q", payload: Array(repeating: 7, count: 4096))) } catch let e as MessageStoreError {
                failure = e
            }
        }
        #expect(failure?.kind == .storageFull, "\(String(describing: failure))")
        #expect(failure?.underlying is SQLiteResultError)
        #expect(try await store.get(id: "first") != nil)
        try await store.close()
    }

    @Test func engineOptionsReachTheStoresColumnFamilies() async throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var options = MessageStoreOptions()
        options.engine.writeBufferSize = 64 << 10
        options.engine.compression = .none
        options.engine.blockSize = 1024
        options.engine.bloomBitsPerKey = 4
        options.columnFamilyOptions["entities"] = ColumnFamilyOptions(compression: .lz4, blockSize: 512, bloomBitsPerKey: 0, writeBufferSize: 1 << 20)
        options.logger.logLevel = .warning
        let store = try await LSMMessageStore.open(at: dir + "/s", options: options)
        let o = try store.opened()
        for family in [o.messages, o.delivery, o.ids] {
            #expect(family.options == ColumnFamilyOptions(compression: .none, blockSize: 1024, bloomBitsPerKey: 4, writeBufferSize: 64 << 10))
        }
        #expect(o.entities.options == options.columnFamilyOptions["entities"])
        // A small write buffer turns message data into table files while the store runs.
        for batch in 0..<40 {
            try await store.add(contentsOf: (0..<10).map { Message(id: "m\(batch)-\($0)", queue: "q", payload: Array(repeating: UInt8($0), count: 1000)) })
        }
        try await store.close()
        // Closing syncs the log but flushes nothing: tables come from full write buffers.
        let tables = try FileManager.default.contentsOfDirectory(atPath: dir + "/s").filter { $0.hasSuffix(".sst") }
        #expect(tables.count >= 2, "\(tables.count) tables after 400 KB of messages with a 64 KB write buffer")
        // Reopening with other options works; existing families keep theirs.
        let reopened = try await LSMMessageStore.open(at: dir + "/s")
        #expect(try reopened.opened().messages.options.writeBufferSize == 64 << 10)
        #expect(try await reopened.pending(queue: "q", limit: 1000).count == 400)
        try await reopened.close()
    }
}
