import Logging
import PostgresNIO
import StrataMessageCore

/// A pooled connection for one call, or `.unavailable` after a bounded
/// wait. postgres-nio's pool keeps a lease request waiting while it retries
/// connecting to a server that is down (its circuit breaker opens after a
/// minute), so a call gives up after a bound (`LeaseDeadlines`) — but only
/// until it holds a connection: a statement that runs long is never
/// abandoned half-way (its outcome would be unknown to the caller).
///
/// A connection the server has ended (a terminated backend) is closed here
/// before it goes back to the pool, and one that comes out of the pool
/// closed is refused (`.unavailable`, nothing sent). On postgres-nio 1.33.2
/// the pool leased a connection whose backend had just been terminated,
/// before it had seen the connection close, and a statement sent on it
/// never returned (`PostgresEventStoreConnectionLossTests`: 1 run in 10
/// hung, the hung call's backend gone from the server).
enum ConnectionLease {
    /// 0: waiting for a connection, 1: holds one, 2: gave up waiting.
    private final class Phase: Sendable {
        private let state = StoreLock(0)
        /// Holds the connection unless the wait was given up.
        func lease() -> Bool { state.withLock { s in s == 0 ? { s = 1; return true }() : s == 1 } }
        /// Gives up waiting unless a connection is held.
        func giveUp() -> Bool { state.withLock { s in s == 0 ? { s = 2; return true }() : false } }
        var gaveUp: Bool { state.withLock { $0 == 2 } }
    }

    /// Runs `body` on a pooled connection. The lease runs in a task of its
    /// own, which `LeaseDeadlines` cancels if it still waits for a
    /// connection after `limit` (and the caller's cancellation cancels).
    static func with<T: Sendable>(_ client: PostgresClient, waiting limit: Duration,
                                  _ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        let phase = Phase()
        let lease = Task {
            try await client.withConnection { c in
                guard phase.lease() else { throw CancellationError() }
                if c.isClosed { throw MessageStoreError(.unavailable, "the pooled connection was closed by the server; nothing was sent") }
                do {
                    return try await body(c)
                } catch {
                    if PostgresErrorMapping.connectionDropped(error) {
                        // Closed before the pool has it back, so it is never leased again.
                        try? await c.close()
                        try? await c.closeFuture.get()
                    }
                    throw error
                }
            }
        }
        let deadline = LeaseDeadlines.shared.register(deadline: .now + limit) {
            if phase.giveUp() { lease.cancel() }
        }
        defer { LeaseDeadlines.shared.remove(deadline) }
        return try await withTaskCancellationHandler {
            do {
                return try await lease.value
            } catch {
                if phase.gaveUp, !Task.isCancelled {
                    throw MessageStoreError(.unavailable, "no connection to PostgreSQL within \(limit) (the server is down or unreachable)")
                }
                throw error
            }
        } onCancel: {
            lease.cancel()
        }
    }
}

extension PostgresConnection {
    /// Runs `q` to its end. A statement's error can arrive after its row
    /// description (a function that raises), so its rows must be read for
    /// the error to surface; a bare `query` would drop it and let the
    /// transaction go on.
    func run(_ q: PostgresQuery, logger: Logger) async throws {
        for try await _ in try await query(q, logger: logger) {}
    }

    /// Every row of `q`, read to its end (as `run`).
    func rows(_ q: PostgresQuery, logger: Logger) async throws -> [PostgresRow] {
        var out: [PostgresRow] = []
        for try await r in try await query(q, logger: logger) { out.append(r) }
        return out
    }
}
