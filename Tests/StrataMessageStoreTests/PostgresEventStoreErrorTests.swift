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
