import Foundation
import PostgresNIO
import StrataMessageCore
import StrataPostgres
import Testing

/// Schema versions: a libpq-era store (tables, no version row) is upgraded
/// in place and keeps its messages; a store written by a newer build is
/// refused and left alone; a fresh store starts at the newest version.
@Suite(.enabled(if: PostgresTestServer.available, "needs STRATA_POSTGRES_URL (make test sets it)"))
struct PostgresSchemaTests {
    private static func version(_ client: PostgresClient, _ t: String) async throws -> Int? {
        var v: Int?
        for try await x in try await client.query(PostgresQuery(unsafeSQL: "SELECT version FROM \(t)schema_version")).decode(Int.self) { v = x }
        return v
    }

    @Test func upgradesALibpqEraStore() async throws {
        try await PostgresTestServer.withClient { client in
            let t = PostgresTestServer.prefix("v1")
            // The tables exactly as the libpq-era store created them, with one
            // message in the queue and one locked message, and one id inside
            // its duplicate window.
            let stored = Message(id: "old", queue: "orders", payload: [1, 2, 3], timestamp: Date(timeIntervalSince1970: 1_700_000_000),
                                 headers: ["k": "v"])
            let record = ByteBuffer(bytes: MessageCodec.encode(stored))
            let catalog = ByteBuffer(bytes: try JSONEncoder().encode(EntityCatalog()))
            try await PostgresTestServer.sql(client, """
                CREATE TABLE \(t)messages(seq BIGSERIAL PRIMARY KEY, id TEXT NOT NULL UNIQUE, queue TEXT NOT NULL, visible_at BIGINT NOT NULL,
                    record BYTEA NOT NULL, size INTEGER NOT NULL, timestamp_ms BIGINT NOT NULL, expires_at BIGINT,
                    delivery_count INTEGER NOT NULL, lock_token BYTEA, locked_until BIGINT NOT NULL DEFAULT 0)
                """, "CREATE INDEX \(t)messages_by_queue ON \(t)messages(queue, visible_at, seq)",
                "CREATE TABLE \(t)removed_ids(id TEXT PRIMARY KEY, window_end BIGINT NOT NULL)",
                "CREATE TABLE \(t)catalog(k INTEGER PRIMARY KEY CHECK (k = 0), json BYTEA NOT NULL)")
            try await client.query("INSERT INTO \(unescaped: t)catalog(k, json) VALUES (0, \(catalog))")
            try await client.query("""
                INSERT INTO \(unescaped: t)messages(id, queue, visible_at, record, size, timestamp_ms, expires_at, delivery_count)
                VALUES ('old', 'orders', 1700000000000, \(record), 3, 1700000000000, NULL, 0)
                """)
            try await client.query("INSERT INTO \(unescaped: t)removed_ids(id, window_end) VALUES ('gone', 9000000000000)")

            let store = try await PostgresMessageStore(client: client, tablePrefix: t)
            #expect(try await Self.version(client, t) == 2)
            #expect(try await store.get(id: "old") == stored)
            await #expect { try await store.add(Message(id: "gone", queue: "orders", payload: [])) } throws: {
                ($0 as? MessageStoreError)?.kind == .duplicateId
            }
            try await store.add(Message(id: "new", queue: "orders", payload: [9]))
            let got = try await store.receive(queue: "orders", limit: 5, lockDuration: nil)
            #expect(got.map(\.message.id) == ["old", "new"] && got.first?.message.headers == ["k": "v"])
            try await store.complete(got.map(\.lockToken))
            #expect(try await store.pending(queue: "orders", limit: 5).isEmpty)
            try await store.close()

            // Reopening a migrated store changes nothing.
            let again = try await PostgresMessageStore(client: client, tablePrefix: t)
            #expect(try await Self.version(client, t) == 2)
            try await again.close()
        }
    }

    @Test func refusesAStoreFromANewerBuild() async throws {
        try await PostgresTestServer.withClient { client in
            let t = PostgresTestServer.prefix("v99")
            let store = try await PostgresMessageStore(client: client, tablePrefix: t)
            try await store.add(Message(id: "kept", queue: "q", payload: []))
            try await store.close()
            try await PostgresTestServer.sql(client, "UPDATE \(t)schema_version SET version = 99")
            do {
                _ = try await PostgresMessageStore(client: client, tablePrefix: t)
                Issue.record("a version-99 store was opened")
            } catch let e as MessageStoreError {
                #expect(e.message.contains("schema version 99") && e.message.contains("newer build"))
            }
            #expect(try await Self.version(client, t) == 99)
            try await PostgresTestServer.sql(client, "UPDATE \(t)schema_version SET version = 2")
            let reopened = try await PostgresMessageStore(client: client, tablePrefix: t)
            #expect(try await reopened.get(id: "kept") != nil)
            try await reopened.close()
        }
    }

    @Test func freshStoreStartsAtTheNewestVersion() async throws {
        try await PostgresTestServer.withClient { client in
            let t = PostgresTestServer.prefix("fresh")
            let store = try await PostgresMessageStore(client: client, tablePrefix: t)
            #expect(try await Self.version(client, t) == 2)
            try await store.close()
        }
    }
}
