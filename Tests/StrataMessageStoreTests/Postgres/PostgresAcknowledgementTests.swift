import Foundation
import Logging
import PostgresNIO
import StrataMessageCore
import StrataPostgres
import Testing

/// An acknowledged write is a committed write. Through the extended query
/// protocol a statement outside a transaction block is committed at the
/// `Sync` that follows it, after the server has already reported the
/// statement complete, and postgres-nio ends a query there: a store that
/// returned at that point acknowledged a write whose commit (its WAL flush,
/// its wait for a synchronous standby) had not happened yet, and lost it
/// when the server crashed or failed over in between (the failover test
/// caught one such add), or when the commit itself failed.
///
/// These tests make the commit fail on purpose — a deferred constraint
/// trigger, checked only at commit, refuses any transaction that writes the
/// row of one message id — so that a call returning before its commit is
/// seen returning success for a write that never happened.
@Suite(.enabled(if: PostgresTestServer.available, "needs STRATA_POSTGRES_URL (make test sets it)"))
struct PostgresAcknowledgementTests {
    static let refused = "refused"

    /// Makes every commit that inserted, updated or deleted the row of
    /// message `refused` in `<t>messages` fail.
    private static func refuseCommits(_ client: PostgresClient, _ t: String) async throws {
        try await PostgresTestServer.sql(client, """
            CREATE FUNCTION \(t)refuse() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              IF (TG_OP = 'DELETE' AND OLD.id = '\(refused)') OR (TG_OP <> 'DELETE' AND NEW.id = '\(refused)') THEN
                RAISE EXCEPTION 'the test refuses this commit';
              END IF;
              RETURN NULL;
            END $$
            """, """
            CREATE CONSTRAINT TRIGGER \(t)refuse AFTER INSERT OR UPDATE OR DELETE ON \(t)messages
            DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION \(t)refuse()
            """)
    }

    private static func withStore(_ body: (PostgresMessageStore, PostgresClient, String) async throws -> Void) async throws {
        try await PostgresTestServer.withClient { client in
            let t = PostgresTestServer.prefix("ack")
            let store = try await PostgresMessageStore(client: client, tablePrefix: t)
            try await store.createQueue("q", settings: QueueSettings(lockDuration: .seconds(60), maxDeliveryCount: 5))
            try await body(store, client, t)
            try await store.close()
        }
    }

    @Test("An add whose commit fails is an error, and nothing is stored")
    func addWaitsForItsCommit() async throws {
        try await Self.withStore { store, client, t in
            try await Self.refuseCommits(client, t)
            await #expect(throws: (any Error).self, "add acknowledged a write whose commit failed") {
                try await store.add(Message(id: Self.refused, queue: "q", payload: [1]))
            }
            #expect(try await store.get(id: Self.refused) == nil)
            // A batch with the refused id is refused whole.
            await #expect(throws: (any Error).self) {
                try await store.add(contentsOf: [Message(id: "a", queue: "q", payload: []), Message(id: Self.refused, queue: "q", payload: [])])
            }
            #expect(try await store.get(id: "a") == nil)
            // The first message of a queue the add registers goes through the catalog's transaction.
            await #expect(throws: (any Error).self) {
                try await store.add(Message(id: Self.refused, queue: "unregistered", payload: [1]))
            }
            #expect(try await store.get(id: Self.refused) == nil)
            try await store.add(Message(id: "fine", queue: "q", payload: [2]))
            #expect(try await store.get(id: "fine") != nil)
        }
    }

    /// The settles: the row is stored before the trigger is installed, so
    /// only the settle's commit is refused, and the message must still be
    /// there, still held by the same lock, afterwards.
    @Test("A complete, abandon or dead-letter whose commit fails is an error, and the message stays as it was")
    func settlesWaitForTheirCommit() async throws {
        try await Self.withStore { store, client, t in
            try await store.add(Message(id: Self.refused, queue: "q", payload: [1]))
            try await store.add(Message(id: "other", queue: "q", payload: [2]))
            let got = try await store.receive(queue: "q", limit: 2, lockDuration: nil)
            let token = try #require(got.first { $0.message.id == Self.refused }?.lockToken)
            let other = try #require(got.first { $0.message.id == "other" }?.lockToken)
            try await Self.refuseCommits(client, t)

            await #expect(throws: (any Error).self, "complete acknowledged a delete whose commit failed") {
                try await store.complete([token])
            }
            #expect(try await store.get(id: Self.refused) != nil)
            await #expect(throws: (any Error).self, "abandon acknowledged a release whose commit failed") {
                try await store.abandon(token)
            }
            await #expect(throws: (any Error).self, "deadLetter acknowledged a move whose commit failed") {
                try await store.deadLetter(token, reason: "test")
            }
            #expect(try await store.pending(queue: EntityPath.deadLetterQueue(of: "q"), limit: 10).isEmpty)
            // The other message settles as usual.
            try await store.complete([other])
            #expect(try await store.get(id: "other") == nil)
            // Still held by the same lock: once commits go through again, its
            // token completes it. (Not a renewLock while the trigger is on: a
            // lock write is a lone statement, committed at the Sync after the
            // server's answer, so its refused commit is an error postgres-nio
            // meets after the call returned, and it closes the connection.)
            try await PostgresTestServer.sql(client, "DROP TRIGGER \(t)refuse ON \(t)messages")
            #expect(try await store.get(id: Self.refused) != nil)
            try await store.complete([token])
            #expect(try await store.get(id: Self.refused) == nil)
        }
    }
}
