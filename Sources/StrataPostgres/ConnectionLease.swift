import Logging
import PostgresNIO
import StrataMessageCore

/// A pooled connection for one call, or `.unavailable` after a bounded
/// wait. postgres-nio's pool keeps a lease request waiting while it retries
/// connecting to a server that is down (its circuit breaker opens after a
/// minute), so the call races a timer — but only until it holds a
/// connection: a statement that runs long is never abandoned half-way (its
/// outcome would be unknown to the caller).
///
/// A connection the server has ended (a terminated backend) is closed here
/// before it goes back to the pool, and one that comes out of the pool
/// closed is refused (`.unavailable`, nothing sent). On postgres-nio 1.33.2
/// the pool leased a connection whose backend had just been terminated,
/// before it had seen the connection close, and a statement sent on it
/// never returned (`PostgresEventStoreConnectionLossTests`: 1 run in 10
/// hung, the hung call's backend gone from the server).
enum ConnectionLease {
    private enum Outcome<T: Sendable>: Sendable {
        case done(T)
        case timer
    }

    /// 0: waiting for a connection, 1: holds one, 2: gave up waiting.
    private final class Phase: Sendable {
        private let state = StoreLock(0)
        /// Holds the connection unless the wait was given up.
        func lease() -> Bool { state.withLock { s in s == 0 ? { s = 1; return true }() : s == 1 } }
        /// Gives up waiting unless a connection is held.
        func giveUp() -> Bool { state.withLock { s in s == 0 ? { s = 2; return true }() : false } }
    }

    static func with<T: Sendable>(_ client: PostgresClient, waiting limit: Duration,
                                  _ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        let phase = Phase()
        return try await withThrowingTaskGroup(of: Outcome<T>.self) { group in
            group.addTask {
                .done(try await client.withConnection { c in
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
                })
            }
            group.addTask {
                try? await Task.sleep(for: limit)
                return .timer
            }
            while let outcome = try await group.next() {
                switch outcome {
                case .done(let value):
                    group.cancelAll()
                    return value
                case .timer:
                    if Task.isCancelled { throw CancellationError() }
                    if phase.giveUp() {
                        group.cancelAll()
                        throw MessageStoreError(.unavailable, "no connection to PostgreSQL within \(limit) (the server is down or unreachable)")
                    }
                }
            }
            throw CancellationError()
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
