import Foundation
import Logging
import PostgresNIO
import StrataMessageCore

/// The `PostgresClient` a store runs its statements on. Either the
/// application's (the store neither runs nor stops it), or one the store
/// built from a connection string and runs in a task of its own until
/// `close()`. With several hosts in the connection string, the store's
/// client talks to the one where `pg_is_in_recovery()` is false; after a
/// connection loss it looks for the primary again and replaces its client,
/// so the next call (a retry of the `.unavailable` one) reaches the new
/// primary.
final class PostgresLink: Sendable {
    private struct Current {
        var client: PostgresClient
        var runner: Task<Void, Never>?
        var generation: Int
        var rediscovering = false
        var closed = false
    }
    private let current: StoreLock<Current>
    private let endpoints: PostgresEndpoints?
    private let poolSize: Int
    private let logger: Logger
    /// The password, so no message ever shows it.
    let secret: String?

    /// Uses the application's client.
    init(client: PostgresClient, logger: Logger) {
        current = StoreLock(Current(client: client, runner: nil, generation: 0))
        endpoints = nil
        poolSize = 0
        secret = nil
        self.logger = logger
    }

    /// Finds the primary among `endpoints` and runs a client for it.
    init(endpoints: PostgresEndpoints, poolSize: Int, logger: Logger) async throws {
        self.endpoints = endpoints
        self.poolSize = poolSize
        self.logger = logger
        secret = endpoints.password
        let i = try await Self.primary(endpoints, logger: logger)
        let client = PostgresClient(configuration: endpoints.clientConfiguration(i, poolSize: poolSize), backgroundLogger: logger)
        current = StoreLock(Current(client: client, runner: Task { await client.run() }, generation: 0))
    }

    deinit { current.withLock { $0.runner?.cancel() } }

    /// The client to use now and its generation (for `connectionLost`).
    var client: (PostgresClient, Int) { current.withLock { ($0.client, $0.generation) } }

    /// The index of the host that accepts writes (the only host when there
    /// is one; it is not probed).
    private static func primary(_ e: PostgresEndpoints, logger: Logger) async throws -> Int {
        if e.hosts.count == 1 { return 0 }
        var failures: [String] = []
        for (i, h) in e.hosts.enumerated() {
            do {
                var config = PostgresConnection.Configuration(host: h.host, port: h.port, username: e.user, password: e.password,
                                                              database: e.database, tls: .disable)
                config.options.connectTimeout = .seconds(3)
                let c = try await PostgresConnection.connect(configuration: config, id: i, logger: logger)
                var standby = true
                do {
                    for try await r in try await c.query("SELECT pg_is_in_recovery()", logger: logger).decode(Bool.self) { standby = r }
                } catch {
                    try? await c.close()
                    throw error
                }
                try? await c.close()
                if !standby { return i }
                failures.append("\(h.host):\(h.port) is a standby")
            } catch {
                failures.append("\(h.host):\(h.port): \(PostgresErrorMapping.map(error, "connect", secret: e.password))")
            }
        }
        throw MessageStoreError(.unavailable, PostgresRedaction.redacted(
            "no primary among \(e) (\(failures.joined(separator: "; ")))", secret: e.password))
    }

    /// Called when a statement on the client of `generation` lost its
    /// connection: with several hosts, looks for the primary again (once at
    /// a time) and switches to it.
    func connectionLost(_ generation: Int) {
        guard let endpoints, endpoints.hosts.count > 1 else { return }
        let go = current.withLock { c -> Bool in
            guard c.generation == generation, !c.rediscovering, !c.closed else { return false }
            c.rediscovering = true
            return true
        }
        guard go else { return }
        let poolSize = poolSize, logger = logger
        Task {
            var next: Int?
            for attempt in 0..<50 {
                if let i = try? await Self.primary(endpoints, logger: logger) {
                    next = i
                    break
                }
                try? await Task.sleep(for: .milliseconds(min(1000, 100 * (attempt + 1))))
                if current.withLock({ $0.closed }) { break }
            }
            let client = next.map { PostgresClient(configuration: endpoints.clientConfiguration($0, poolSize: poolSize), backgroundLogger: logger) }
            let old = current.withLock { c -> Task<Void, Never>? in
                c.rediscovering = false
                guard let client, !c.closed else { return nil }
                let old = c.runner
                c.client = client
                c.runner = Task { await client.run() }
                c.generation += 1
                return old
            }
            old?.cancel()
            if let next { logger.info("PostgreSQL store switched to the primary \(endpoints.hosts[next].host):\(endpoints.hosts[next].port)") }
        }
    }

    /// Stops the client if the store runs it.
    func close() {
        let runner = current.withLock { c -> Task<Void, Never>? in
            c.closed = true
            return c.runner
        }
        runner?.cancel()
    }
}
