import Foundation
import Logging
import PostgresNIO
import StrataMessageCore
import StrataPostgres
import Testing

/// Schema versions: a libpq-era store (tables, no version row) is upgraded
/// in place and keeps its messages; a version-2 store gets version 3's
/// functions, a version-3 store version 4's procedures; a store written by
/// a newer build is refused and left alone; a fresh store starts at the
/// newest version. And the commit mode each function leaves for its
/// transaction.
@Suite(.enabled(if: PostgresTestServer.available, "needs STRATA_POSTGRES_URL (make test sets it)"))
struct PostgresSchemaTests {
    private static func version(_ client: PostgresClient, _ t: String) async throws -> Int? {
        var v: Int?
        for try await x in try await client.query(PostgresQuery(unsafeSQL: "SELECT version FROM \(t)schema_version")).decode(Int.self) { v = x }
        return v
    }

    /// The `synchronous_commit` that `call` leaves for the commit of a
    /// transaction that started at `start` (read in that transaction, which
    /// is then rolled back).
    private static func commitSetting(_ client: PostgresClient, from start: String, after call: String) async throws -> String {
        let logger = Logger(label: "test")
        return try await client.withConnection { c in
            for try await _ in try await c.query("BEGIN", logger: logger) {}
            do {
                for try await _ in try await c.query(PostgresQuery(unsafeSQL: "SET LOCAL synchronous_commit = \(start)"), logger: logger) {}
                for try await _ in try await c.query(PostgresQuery(unsafeSQL: call), logger: logger) {}
                var setting = ""
                for try await v in try await c.query("SELECT current_setting('synchronous_commit')", logger: logger).decode(String.self) {
                    setting = v
                }
                for try await _ in try await c.query("ROLLBACK", logger: logger) {}
                return setting
            } catch {
                _ = try? await c.query("ROLLBACK", logger: logger)
                throw error
            }
        }
    }

    /// What each server-side function leaves for its commit: every one that
    /// stores or settles raises `off` to `on` (an acknowledged add or
    /// complete survives a server crash even where the server's default is
    /// `off`) and keeps a stronger setting; a receive's lock commits without
    /// waiting for the flush.
    @Test func writesCommitDurablyWhateverTheSessionSetting() async throws {
        try await PostgresTestServer.withClient { client in
            let t = PostgresTestServer.prefix("sync")
            try await PostgresMessageStore(client: client, tablePrefix: t).close()
            let writes = [
                "SELECT \(t)add('{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', 0)",
                "SELECT \(t)complete('{}', '{}', '{}', '{}', 0)",
                "SELECT \(t)abandon('x', 'q', '\\x00', 0, 10)",
                "SELECT \(t)move(0, NULL, 0, 'x', 'q', '\\x00', 0, 0, NULL, 0)",
                "SELECT \(t)drop(0, 0, -1)",
            ]
            for call in writes {
                #expect(try await Self.commitSetting(client, from: "off", after: call) == "on", "\(call)")
                #expect(try await Self.commitSetting(client, from: "remote_apply", after: call) == "remote_apply", "\(call)")
            }
            #expect(try await Self.commitSetting(client, from: "on", after: "SELECT * FROM \(t)receive('q', 0, 1, 0, 10, true)") == "off")
        }
    }

    /// A version-2 store (its functions took the session's commit setting)
    /// gets version 3's functions when it is opened, and keeps its messages.
    @Test func upgradesAVersion2Store() async throws {
        try await PostgresTestServer.withClient { client in
            let t = PostgresTestServer.prefix("v2")
            let store = try await PostgresMessageStore(client: client, tablePrefix: t)
            try await store.add(Message(id: "kept", queue: "q", payload: [1]))
            try await store.close()
            // Version 2's complete: today's without its durable-commit line.
            try await PostgresTestServer.sql(client, """
                DO $$ BEGIN EXECUTE replace(pg_get_functiondef('\(t)complete(text[],text[],bytea[],bigint[],bigint)'::regprocedure),
                  'PERFORM set_config(''synchronous_commit'', ''on'', true) WHERE current_setting(''synchronous_commit'') = ''off'';', '');
                END $$
                """, "UPDATE \(t)schema_version SET version = 2")
            let call = "SELECT \(t)complete('{}', '{}', '{}', '{}', 0)"
            #expect(try await Self.commitSetting(client, from: "off", after: call) == "off")
            let reopened = try await PostgresMessageStore(client: client, tablePrefix: t)
            #expect(try await Self.version(client, t) == 5)
            #expect(try await Self.commitSetting(client, from: "off", after: call) == "on")
            #expect(try await reopened.get(id: "kept") != nil)
            try await reopened.close()
        }
    }

    /// A version-3 store (no procedures: its adds and completes were
    /// acknowledged before their commit) gets version 4's procedures when it
    /// is opened, and its adds and completes go through them.
    @Test func upgradesAVersion3Store() async throws {
        try await PostgresTestServer.withClient { client in
            let t = PostgresTestServer.prefix("v3")
            let store = try await PostgresMessageStore(client: client, tablePrefix: t)
            try await store.add(Message(id: "kept", queue: "q", payload: [1]))
            try await store.close()
            try await PostgresTestServer.sql(client, "DROP PROCEDURE \(t)add_committed", "DROP PROCEDURE \(t)complete_committed",
                                             "UPDATE \(t)schema_version SET version = 3")
            let reopened = try await PostgresMessageStore(client: client, tablePrefix: t)
            #expect(try await Self.version(client, t) == 5)
            var procedures: [String] = []
            for try await name in try await client.query(PostgresQuery(unsafeSQL: """
                SELECT proname::text FROM pg_proc WHERE prokind = 'p' AND proname LIKE '\(t)%' ORDER BY 1
                """)).decode(String.self) { procedures.append(name) }
            #expect(procedures == ["\(t)add_committed", "\(t)complete_committed"])
            try await reopened.add(Message(id: "new", queue: "q", payload: [2]))
            let got = try await reopened.receive(queue: "q", limit: 2, lockDuration: nil)
            try await reopened.complete(got.map(\.lockToken))
            #expect(got.count == 2)
            #expect(try await reopened.pending(queue: "q", limit: 5).isEmpty)
            try await reopened.close()
        }
    }

    /// A version-4 store (procedures that call the functions, one `unnest`
    /// path for every batch size) gets version 5's bodies when it is
    /// opened: the procedures no longer call the functions, and both the
    /// one-message and the batch paths keep their rules.
    @Test func upgradesAVersion4Store() async throws {
        try await PostgresTestServer.withClient { client in
            let t = PostgresTestServer.prefix("v4")
            let store = try await PostgresMessageStore(client: client, tablePrefix: t)
            try await store.createQueue("w", settings: QueueSettings(duplicateDetectionWindow: .seconds(600)))
            try await store.close()
            try await PostgresTestServer.sql(client, """
                CREATE OR REPLACE PROCEDURE \(t)add_committed(p_ids text[], p_queues text[], p_visible bigint[], p_records bytea[], \
                p_sizes bigint[], p_ts bigint[], p_expires bigint[], p_counts bigint[], p_now bigint) LANGUAGE plpgsql AS $fn$
                BEGIN
                  PERFORM \(t)add(p_ids, p_queues, p_visible, p_records, p_sizes, p_ts, p_expires, p_counts, p_now);
                  COMMIT;
                END $fn$
                """, "UPDATE \(t)schema_version SET version = 4")
            let reopened = try await PostgresMessageStore(client: client, tablePrefix: t)
            #expect(try await Self.version(client, t) == 5)
            var bodies: [String] = []
            for try await body in try await client.query(PostgresQuery(unsafeSQL: """
                SELECT prosrc FROM pg_proc WHERE prokind = 'p' AND proname LIKE '\(t)%' ORDER BY proname
                """)).decode(String.self) { bodies.append(body) }
            #expect(bodies.count == 2)
            #expect(!bodies.contains { $0.contains("PERFORM \(t)add(") || $0.contains("PERFORM \(t)complete(") })
            // One message, then a batch: stored, settled, their ids held by the window.
            try await reopened.add(Message(id: "one", queue: "w", payload: [1]))
            try await reopened.add(contentsOf: [Message(id: "two", queue: "w", payload: [2]), Message(id: "three", queue: "w", payload: [3])])
            let first = try await reopened.receive(queue: "w", limit: 1, lockDuration: nil)
            try await reopened.complete(first.map(\.lockToken))
            let rest = try await reopened.receive(queue: "w", limit: 2, lockDuration: nil)
            try await reopened.complete(rest.map(\.lockToken))
            #expect(first.map(\.message.id) + rest.map(\.message.id) == ["one", "two", "three"])
            await #expect(throws: MessageStoreError.self) { try await reopened.add(Message(id: "one", queue: "w", payload: [4])) }
            await #expect(throws: MessageStoreError.self) {
                try await reopened.add(contentsOf: [Message(id: "four", queue: "w", payload: [5]), Message(id: "three", queue: "w", payload: [6])])
            }
            // A settled token is not held any more, on either path.
            await #expect(throws: MessageStoreError.self) { try await reopened.complete(first.map(\.lockToken)) }
            await #expect(throws: MessageStoreError.self) { try await reopened.complete(rest.map(\.lockToken)) }
            #expect(try await reopened.pending(queue: "w", limit: 5).isEmpty)
            try await reopened.close()
        }
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
            #expect(try await Self.version(client, t) == 5)
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
            #expect(try await Self.version(client, t) == 5)
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
            #expect(try await Self.version(client, t) == 5)
            try await store.close()
        }
    }
}
