import Logging
import PostgresNIO
import StrataMessageCore

/// Tells the other store instances (other processes, other hosts) that
/// messages arrived in some queues: one `pg_notify` statement for every
/// queue marked since the last one, at most one statement in flight. Sent
/// after the writes committed and outside their transactions, because a
/// transaction that notifies holds a database-wide lock through its commit
/// (its WAL flush), which would serialise concurrent adds; coalescing keeps
/// it to about one extra statement per round trip under load, whatever the
/// number of adds. A lost notification (connection down) costs a waiter in
/// another process its wake-up, not a message: it wakes on its own after
/// `maxWait` or the 100 ms of a reconnecting listener.
final class ArrivalNotifier: Sendable {
    private struct State {
        var pending: Set<String> = []
        var running = false
    }
    private let state = StoreLock(State())
    private let link: PostgresLink
    private let channel: String
    /// This store instance, so its own listener ignores what it sent.
    let origin: String
    private let logger: Logger

    init(link: PostgresLink, channel: String, logger: Logger) {
        self.link = link
        self.channel = channel
        self.logger = logger
        origin = String(UInt64.random(in: .min ... .max), radix: 36)
    }

    /// Marks `queues` as having new messages.
    func arrived<S: Sequence<String>>(_ queues: S) {
        let start = state.withLock { s -> Bool in
            s.pending.formUnion(queues)
            if s.running || s.pending.isEmpty { return false }
            s.running = true
            return true
        }
        guard start else { return }
        Task { await drain() }
    }

    private func drain() async {
        while true {
            let batch = state.withLock { s -> [String] in
                let b = Array(s.pending)
                s.pending = []
                if b.isEmpty { s.running = false }
                return b
            }
            if batch.isEmpty { return }
            let payloads = batch.map { "q\(origin):\($0)" }
            let channel = channel, logger = logger
            do {
                _ = try await ConnectionLease.with(link.client.0, waiting: .seconds(5)) { c in
                    try await c.run("SELECT pg_notify(\(channel), p) FROM unnest(\(payloads)::text[]) AS p", logger: logger)
                }
            } catch {
                logger.debug("PostgreSQL arrival notification not sent: \(PostgresErrorMapping.map(error, "notify", secret: link.secret))")
            }
        }
    }
}
