import Foundation
import PostgresNIO
import StrataMessageStore
@testable import StrataPostgres
import StrataTestSupport
import Testing

/// The PostgreSQL backend's own behaviour beside the shared contract:
/// wake-ups across store instances, the application's client, close,
/// cancellation, error kinds, redaction, several hosts.
@Suite(.enabled(if: PostgresTestServer.available, "needs STRATA_POSTGRES_URL (make test sets it)"))
struct PostgresStoreTests {
    private func open(_ prefix: String) async throws -> PostgresMessageStore {
        try await PostgresMessageStore(configuration: PostgresConfiguration(connectionString: PostgresTestServer.url ?? "", tablePrefix: prefix))
    }

    /// A receive waiting on one store instance (its own client) is woken by
    /// an add through another: with nothing scheduled and no poll, only the
    /// notification can end its wait before maxWait with a message.
    @Test func addOnOneInstanceWakesAReceiveOnAnother() async throws {
        let prefix = PostgresTestServer.prefix("wake")
        let producer = try await open(prefix)
        let consumer = try await open(prefix)
        try await producer.createQueue("jobs", settings: QueueSettings())
        // Without a listener a waiter looks every 100 ms; wait until it
        // listens, so that only a notification can wake it.
        while !consumer.catalogCache.isListening { try await Task.sleep(for: .milliseconds(10)) }
        for round in 0..<3 {
            let waiting = Task { try await consumer.receive(queue: "jobs", limit: 1, lockDuration: nil, maxWait: .seconds(120)) }
            try await Task.sleep(for: .milliseconds(200))
            try await producer.add(Message(id: "m\(round)", queue: "jobs", payload: [UInt8(round)]))
            let got = try await waiting.value
            #expect(got.map(\.message.id) == ["m\(round)"])
            try await consumer.complete(got.map(\.lockToken))
        }
        // An abandon wakes too.
        try await producer.add(Message(id: "a", queue: "jobs", payload: []))
        let held = try await producer.receive(queue: "jobs", limit: 1, lockDuration: .seconds(600))
        let waiting = Task { try await consumer.receive(queue: "jobs", limit: 1, lockDuration: nil, maxWait: .seconds(120)) }
        try await Task.sleep(for: .milliseconds(200))
        try await producer.abandon(try #require(held.first).lockToken)
        #expect(try await waiting.value.map(\.message.id) == ["a"])
        try await producer.close()
        try await consumer.close()
    }

    /// A catalog change by one instance reaches the other's cache.
    @Test func catalogChangesReachOtherInstances() async throws {
        let prefix = PostgresTestServer.prefix("cat")
        let a = try await open(prefix)
        let b = try await open(prefix)
        try await a.createQueue("q1", settings: QueueSettings())
        #expect(try await b.queues().map(\.name) == ["q1"])
        try await a.createQueue("q2", settings: QueueSettings(maxDeliveryCount: 2))
        var seen: [String] = []
        for _ in 0..<200 {  // the notification is asynchronous: allow it to arrive
            seen = try await b.queues().map(\.name)
            if seen == ["q1", "q2"] { break }
            try await Task.sleep(for: .milliseconds(25))
        }
        #expect(seen == ["q1", "q2"])
        #expect(try await b.queues().last?.settings.maxDeliveryCount == 2)
        try await a.close()
        try await b.close()
    }

    /// The store runs on the application's client and leaves it running on close.
    @Test func runsOnTheApplicationsClient() async throws {
        try await PostgresTestServer.withClient { client in
            let store = try await PostgresMessageStore(client: client, tablePrefix: PostgresTestServer.prefix("app"))
            try await store.add(contentsOf: (0..<5).map { Message(id: "b\($0)", queue: "q", payload: [UInt8($0)]) })
            let got = try await store.receive(queue: "q", limit: 10, lockDuration: nil)
            #expect(got.map(\.message.id) == ["b0", "b1", "b2", "b3", "b4"])
            try await store.complete(got.map(\.lockToken))
            #expect(try await store.pending(queue: "q", limit: 10).isEmpty)
            try await store.close()
            var one = 0
            for try await v in try await client.query("SELECT 1").decode(Int.self) { one = v }
            #expect(one == 1)
        }
    }

    /// A closed store refuses every call with `.closed`, and a receive
    /// waiting when it closes ends.
    @Test func closedStoreRefusesCalls() async throws {
        let store = try await open(PostgresTestServer.prefix("closed"))
        try await store.add(Message(id: "x", queue: "q", payload: []))
        let waiting = Task { try await store.receive(queue: "empty", limit: 1, lockDuration: nil, maxWait: .seconds(120)) }
        try await Task.sleep(for: .milliseconds(100))
        try await store.close()
        await #expect { _ = try await waiting.value } throws: { ($0 as? MessageStoreError)?.kind == .closed }
        for call in [{ _ = try await store.get(id: "x") }, { try await store.add(Message(id: "y", queue: "q", payload: [])) },
                     { _ = try await store.receive(queue: "q", limit: 1) }, { _ = try await store.queues() },
                     { _ = try await store.pending(queue: "q", after: nil, limit: 1) }] as [@Sendable () async throws -> Void] {
            await #expect { try await call() } throws: { ($0 as? MessageStoreError)?.kind == .closed }
        }
        #expect(try await store.health().status == .critical)
    }

    /// Cancelling a long poll ends it at once with CancellationError.
    @Test func cancelledLongPollEnds() async throws {
        let store = try await open(PostgresTestServer.prefix("cancel"))
        let waiting = Task { try await store.receive(queue: "q", limit: 1, lockDuration: nil, maxWait: .seconds(300)) }
        try await Task.sleep(for: .milliseconds(100))
        waiting.cancel()
        await #expect(throws: CancellationError.self) { _ = try await waiting.value }
        try await store.close()
    }

    /// Batched completes are all or none; a lost token is `.lockLost`.
    @Test func batchedCompleteIsAllOrNone() async throws {
        let store = try await open(PostgresTestServer.prefix("batch"))
        try await store.add(contentsOf: (0..<4).map { Message(id: "c\($0)", queue: "q", payload: []) })
        let got = try await store.receive(queue: "q", limit: 4, lockDuration: nil)
        try await store.complete([got[0].lockToken])
        await #expect { try await store.complete(got.map(\.lockToken)) } throws: { ($0 as? MessageStoreError)?.kind == .lockLost }
        #expect(try await store.pending(queue: "q", limit: 10).map(\.id) == ["c1", "c2", "c3"])
        try await store.complete(Array(got.dropFirst()).map(\.lockToken))
        #expect(try await store.pending(queue: "q", limit: 10).isEmpty)
        try await store.close()
    }

    /// SQLSTATE classes map to the message layer's kinds.
    @Test(arguments: [("08006", MessageStoreError.Kind.unavailable), ("08001", .unavailable), ("57P01", .unavailable),
                      ("57P03", .unavailable), ("40001", .unavailable), ("40P01", .unavailable), ("53100", .storageFull),
                      ("23505", .duplicateId), ("XX001", .corruption), ("XX002", .corruption), ("25006", .readOnly),
                      ("42P01", .invalidArgument), ("ST001", .lockLost)])
    func sqlStatesMapToKinds(state: String, kind: MessageStoreError.Kind) {
        #expect(PostgresErrorMapping.kind(sqlState: state) == kind)
        #expect(PostgresErrorMapping.kind(sqlState: state).rawValue == kind.rawValue)
    }

    /// A server error raised inside a statement comes back with its kind
    /// and the server's text as context.
    @Test func serverErrorsKeepTheirState() async throws {
        try await PostgresTestServer.withClient { client in
            let store = try await PostgresMessageStore(client: client, tablePrefix: PostgresTestServer.prefix("err"))
            do {
                try await client.query("SELECT 1/0")
                Issue.record("no error")
            } catch {
                let e = try #require(PostgresErrorMapping.map(error, "test", secret: nil) as? MessageStoreError)
                #expect(e.kind == .invalidArgument && e.message.contains("22012") && e.underlying != nil)
            }
            try await store.close()
        }
    }

    /// Passwords never reach an error message, whatever the form of the
    /// connection string, and several hosts parse.
    @Test func passwordsAreRedacted() async throws {
        let secret = "s3cret-Pa55word"
        for url in ["postgresql://strata:\(secret)@127.0.0.1:54414/strata_no_such_db",
                    "postgresql://strata:\(secret)@127.0.0.1:54414,127.0.0.1:54414/strata_no_such_db",
                    "host=127.0.0.1 port=54414 user=strata password=\(secret) dbname=strata_no_such_db",
                    "postgresql://strata:\(secret)@/broken"] {
            do {
                let s = try await PostgresMessageStore(url: url)
                try await s.close()
                Issue.record("opened \(url)")
            } catch {
                let text = "\(error) \(String(reflecting: error)) \((error as? MessageStoreError)?.message ?? "")"
                #expect(!text.contains(secret), "password in: \(text)")
                #expect(error is MessageStoreError)
            }
        }
        #expect(PostgresRedaction.redacted("postgresql://u:\(secret)@h:1,h2:2/db") == "postgresql://u:***@h:1,h2:2/db")
        #expect(PostgresRedaction.redacted("host=h password=\(secret) user=u") == "host=h password=*** user=u")
        let e = try PostgresEndpoints("postgresql://u:p%40ss@h1:5433,h2/db")
        #expect(e.hosts.map(\.host) == ["h1", "h2"] && e.hosts.map(\.port) == [5433, 5432] && e.password == "p@ss" && e.database == "db")
        #expect(!"\(e)".contains("p@ss"))
    }

    /// With several hosts the store uses the one that is not in recovery
    /// (here: the same server twice behind a host that refuses).
    @Test func severalHostsFindTheWritableOne() async throws {
        let url = try #require(PostgresTestServer.url)
        let u = try #require(URLComponents(string: url))
        let multi = "postgresql://\(u.user ?? "strata")@\(u.host ?? "127.0.0.1"):\(u.port ?? 5432),\(u.host ?? "127.0.0.1"):\(u.port ?? 5432)\(u.path)"
        let store = try await PostgresMessageStore(configuration: PostgresConfiguration(connectionString: multi, tablePrefix: PostgresTestServer.prefix("multi")))
        try await store.add(Message(id: "m", queue: "q", payload: [1]))
        #expect(try await store.get(id: "m")?.payload == [1])
        try await store.close()
    }

    /// A stopped server is `.unavailable` (retryable); once it is back the
    /// same store carries on.
    @Test(.timeLimit(.minutes(3))) func stoppedServerIsUnavailable() async throws {
        try await ThrowawayPostgres.withClient { server, client in
            let store = try await PostgresMessageStore(client: client, tablePrefix: "down_", connectionWait: .seconds(20))
            try await store.add(Message(id: "before", queue: "q", payload: []))
            try await offCooperativePool { try server.stop() }
            for call in [{ try await store.add(Message(id: "during", queue: "q", payload: [])) },
                         { _ = try await store.receive(queue: "q", limit: 1) }] as [@Sendable () async throws -> Void] {
                await #expect { try await call() } throws: { e in
                    guard let e = e as? MessageStoreError else { return false }
                    return e.kind == .unavailable && e.isTransient
                }
            }
            #expect(try await store.health().status == .critical)
            try await offCooperativePool { try server.start() }
            var stored: Message?
            for _ in 0..<100 where stored == nil {  // the pool reconnects with a back-off
                stored = try? await store.get(id: "before")
                if stored == nil { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(stored?.id == "before")
            try await store.close()
        }
    }
}
