import Foundation
import Logging
import PostgresNIO
import StrataMessageStore
import StrataPostgres
import StrataTestSupport
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

    /// The server stops while the store is open: appends and loads are
    /// `.unavailable` (retryable) and health is critical; once the server is
    /// back, the same store carries on with new connections and what was
    /// stored before is all there, once. Its own throwaway server (the
    /// shared one is not stopped), so the append lock it holds is its own.
    @Test(.timeLimit(.minutes(3))) func aServerThatStopsWhileOpenIsUnavailableThenCarriesOn() async throws {
        try await ThrowawayPostgres.withClient { server, client in
            let store = try await PostgresEventStore(client: client, connectionWait: .seconds(5))
            let first = try await store.append(Event(stream: "s", payload: [1], idempotencyKey: "before"))
            try await offCooperativePool { try server.stop() }
            for call in [{ _ = try await store.append(Event(stream: "s", payload: [2], idempotencyKey: "during")) },
                         { _ = try await store.load(stream: "s", after: 0, limit: 10) }] as [@Sendable () async throws -> Void] {
                await #expect { try await call() } throws: { e in
                    guard let e = e as? MessageStoreError else { return false }
                    return e.kind == .unavailable && e.isTransient
                }
            }
            #expect(await store.health().status == .critical)
            try await offCooperativePool { try server.start() }
            // The pool reconnects with a back-off; the retried append is stored once.
            var retried: Int64?
            let deadline = ContinuousClock.now + .seconds(90)
            while retried == nil && ContinuousClock.now < deadline {
                retried = try? await store.append(Event(stream: "s", payload: [2], idempotencyKey: "during"))
                if retried == nil { try await Task.sleep(for: .milliseconds(100)) }
            }
            let second = try #require(retried, "the store did not carry on after the server came back")
            #expect(second > first)
            #expect(try await store.append(Event(stream: "s", payload: [2], idempotencyKey: "during")) == second)
            #expect(try await store.load(stream: "s", after: 0, limit: 10).map(\.lsn) == [first, second])
            #expect(await store.health().status == .healthy)
            try await store.close()
        }
    }

    @Test func serverErrorsMapByTheirSQLState() {
        let expected: [String: MessageStoreError.Kind] = [
            "08006": .unavailable, "08001": .unavailable, "57P01": .unavailable, "57P03": .unavailable, "40P01": .unavailable,
            "40001": .unavailable, "53300": .unavailable, "53100": .storageFull, "25006": .readOnly, "58030": .ioError,
            "XX001": .corruption, "XX002": .corruption, "42601": .invalidArgument, "22021": .invalidArgument, "53000": .unavailable,
            // An idempotency key stored by a writer that bypassed the append lock.
            "23505": .duplicateKey,
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
}
