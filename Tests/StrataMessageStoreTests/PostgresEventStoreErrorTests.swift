import Foundation
import Logging
import PostgresNIO
import StrataMessageStore
import StrataPostgres
import Testing

/// How `PostgresEventStore` reports a server it cannot reach, a connection
/// lost under a call, and calls after `close()`.
@Suite struct PostgresEventStoreErrorTests {
    /// Nothing listens on port 1 of the loopback interface: every connect
    /// is refused, as with a stopped server.
    @Test func aStoppedServerIsUnavailable() async throws {
        let e = await #expect(throws: MessageStoreError.self) {
            _ = try await PostgresEventStore(url: "postgresql://strata@127.0.0.1:1/postgres", connectTimeout: .milliseconds(500))
        }
        #expect(e?.kind == .unavailable)
        #expect(e?.isTransient == true)
    }

    @Test func serverErrorsMapByTheirSQLState() {
        let expected: [String: MessageStoreError.Kind] = [
            "08006": .unavailable, "08001": .unavailable, "57P01": .unavailable, "57P03": .unavailable, "40P01": .unavailable,
            "40001": .unavailable, "53300": .unavailable, "53100": .storageFull, "25006": .readOnly, "58030": .ioError,
            "XX001": .corruption, "XX002": .corruption, "42601": .invalidArgument, "22021": .invalidArgument, "23505": .invalidArgument,
        ]
        for (state, kind) in expected { #expect(PostgresEventStore.kind(sqlState: state) == kind, "SQLSTATE \(state)") }
    }

    @Test(.enabled(if: EventBackend.postgresURL != nil, "STRATA_POSTGRES_URL is not set"))
    func callsAfterCloseAreClosed() async throws {
        let store = try await PostgresEventStore(url: try #require(EventBackend.postgresURL))
        try await store.close()
        for call in [{ _ = try await store.append(Event(stream: "s", payload: [])) },
                     { _ = try await store.load(stream: "s", after: 0, limit: 1) },
                     { _ = try await store.lsn(forIdempotencyKey: "k") },
                     { _ = try await store.latestSnapshot(stream: "s") }] as [@Sendable () async throws -> Void] {
            let e = await #expect(throws: MessageStoreError.self) { try await call() }
            #expect(e?.kind == .closed)
        }
    }

    /// The store's connection is terminated by the server while an append
    /// waits for the append lock (held by the test): the append fails as
    /// `.unavailable`, stores nothing, and a retry on a new connection works.
    @Test(.enabled(if: EventBackend.postgresURL != nil, "STRATA_POSTGRES_URL is not set"))
    func aConnectionLostUnderAnAppendIsUnavailableAndARetryWorks() async throws {
        let url = try #require(EventBackend.postgresURL)
        let u = try #require(URLComponents(string: url))
        let name = "strata-victim-" + UUID().uuidString.prefix(8)
        var config = PostgresClient.Configuration(host: try #require(u.host), port: u.port ?? 5432, username: try #require(u.user),
                                                  password: u.password, database: String(u.path.dropFirst()), tls: .disable)
        config.options.additionalStartupParameters = [("application_name", name)]
        let victim = try await PostgresEventStore(configuration: config)
        let admin = try await PostgresEventStore(url: url)
        let logger = Logger(label: "test")
        let s = "lost-" + UUID().uuidString.prefix(8), key = s + "-k"
        try await admin.client.withConnection { c in
            try await c.query("SELECT pg_advisory_lock(\(PostgresEventStore.appendLock))", logger: logger)
            let append = Task { try await victim.append(Event(stream: s, payload: [1], idempotencyKey: key)) }
            // Wait until the victim's backend waits for the lock, then end it.
            var terminated = false
            while !terminated {
                let rows = try await c.query("""
                    SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                    WHERE application_name = \(name) AND wait_event_type = 'Lock'
                    """, logger: logger)
                for try await ok in rows.decode(Bool.self) { terminated = terminated || ok }
                if !terminated { try await Task.sleep(for: .milliseconds(5)) }
            }
            let e = await #expect(throws: MessageStoreError.self) { _ = try await append.value }
            #expect(e?.kind == .unavailable, "\(String(describing: e))")
            try await c.query("SELECT pg_advisory_unlock(\(PostgresEventStore.appendLock))", logger: logger)
        }
        #expect(try await admin.lsn(forIdempotencyKey: key) == nil)
        let lsn = try await victim.append(Event(stream: s, payload: [2], idempotencyKey: key))
        #expect(try await victim.load(stream: s, after: 0, limit: 10).map(\.lsn) == [lsn])
        try await victim.close()
        try await admin.close()
    }
}
