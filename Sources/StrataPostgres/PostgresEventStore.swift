import Foundation
import Logging
import PostgresNIO
import StrataMessageCore

/// Event streams in PostgreSQL, on postgres-nio's `PostgresClient` (a pool
/// of non-blocking connections). Several writers on several hosts can share
/// one database: LSNs come from one sequence, `strata_event_lsn`.
///
/// Schema (Docs/message-store.md, "Event streams"): `strata_events(lsn
/// BIGINT PRIMARY KEY, stream TEXT, record BYTEA)` indexed by `(stream,
/// lsn)`; `strata_event_keys(key TEXT PRIMARY KEY, lsn BIGINT)` (idempotency
/// keys outlive compaction); `strata_event_snapshots(stream, upto_lsn,
/// record)` keyed by both. Records are `EventCodec`'s, as on every backend.
///
/// Gap-free reads across hosts: an append takes a transaction-scoped
/// advisory lock before it draws its LSNs and holds it until it commits, so
/// transactions commit in LSN order and a reader that saw LSN n can never
/// later find a smaller one. The price is one appending transaction at a
/// time per database (batches amortise it). Commit modes map to
/// `synchronous_commit`: `.syncDurable` on, `.asyncDurable` and
/// `.memoryOnly` off (PostgreSQL has no unlogged per-transaction mode; a
/// server crash may lose the last few hundred milliseconds of appends, a
/// client crash nothing).
///
/// Errors (`PostgresErrorMapping`, shared with the message store): a lost
/// connection, a server that is down or restarting, a deadlock or
/// serialization failure are `.unavailable` (retry it; an append whose
/// connection went during its commit may have been stored, and its retry
/// with the same idempotency keys returns the stored LSN); a call after or
/// cut off by `close()` is `.closed`; the server's disk full
/// `.storageFull`, a read-only server `.readOnly`, damaged pages or an
/// unreadable reply `.corruption`, a unique violation `.duplicateKey`, bad
/// credentials or SQL `.invalidArgument`. Every call, opening included,
/// waits at most the configuration's `connectTimeout` for a pooled
/// connection, then throws `.unavailable`.
public final class PostgresEventStore: EventStore {
    /// The client the store runs its queries on.
    public let client: PostgresClient
    private let runner: Task<Void, Never>?
    private let options: EventStoreOptions
    private let logger: Logger
    private let arrivals = EventArrivals()
    private let closed = StoreLock(false)
    /// How long a call waits for a pooled connection before `.unavailable`.
    private let connectionWait: Duration
    /// The password, kept out of error messages.
    private let secret: String?
    /// The store's metric instruments (`backend` = `postgres`).
    public let recorder = EventStoreRecorder(backend: "postgres")
    /// The advisory lock key appends hold (any constant; "STRATAEV").
    package static let appendLock: Int64 = 0x5354_5241_5441_4556

    /// Connects with `configuration`, runs the client for as long as the
    /// store is open, and creates the schema if needed.
    public convenience init(configuration: PostgresClient.Configuration, options: EventStoreOptions = EventStoreOptions(),
                            logger: Logger = Logger(label: "strata.events.postgres")) async throws {
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        let runner = Task { await client.run() }
        do {
            try await self.init(client: client, runner: runner, options: options, logger: logger,
                                connectTimeout: configuration.options.connectTimeout, secret: configuration.password)
        } catch {
            runner.cancel()
            throw error
        }
    }

    /// Connects to `url` (`postgresql://user[:password]@host[:port]/database`,
    /// TLS off); throws `.unavailable` if no connection is made within
    /// `connectTimeout`.
    public convenience init(url: String, options: EventStoreOptions = EventStoreOptions(), connectTimeout: Duration = .seconds(60),
                            logger: Logger = Logger(label: "strata.events.postgres")) async throws {
        guard let u = URLComponents(string: url), u.scheme == "postgresql" || u.scheme == "postgres",
              let host = u.host, let user = u.user else {
            throw MessageStoreError(.invalidArgument, "not a postgresql://user@host[:port]/database URL: \(url)")
        }
        let db = u.path.hasPrefix("/") ? String(u.path.dropFirst()) : u.path
        var config = PostgresClient.Configuration(host: host, port: u.port ?? 5432, username: user, password: u.password,
                                                  database: db.isEmpty ? nil : db, tls: .disable)
        config.options.connectTimeout = connectTimeout
        try await self.init(configuration: config, options: options, logger: logger)
    }

    /// Uses a client the caller runs (`client.run()` in a task of its own).
    /// A call that gets no connection within `connectionWait` (the server
    /// is down) is `.unavailable`; postgres-nio's pool gives up by itself
    /// after about a minute, and once it has, it retries only after a
    /// back-off, so a shorter wait lets the callers' retries find a server
    /// that came back sooner.
    public convenience init(client: PostgresClient, options: EventStoreOptions = EventStoreOptions(),
                            connectionWait: Duration = .seconds(60),
                            logger: Logger = Logger(label: "strata.events.postgres")) async throws {
        try await self.init(client: client, runner: nil, options: options, logger: logger, connectTimeout: connectionWait, secret: nil)
    }

    private init(client: PostgresClient, runner: Task<Void, Never>?, options: EventStoreOptions, logger: Logger,
                 connectTimeout: Duration?, secret: String?) async throws {
        self.client = client
        self.runner = runner
        self.options = options
        self.logger = logger.forStatements
        self.secret = secret
        // postgres-nio's pool retries a refused connection for a minute
        // before failing the request; every call gives up sooner. Only the
        // wait for a connection is timed: the schema transaction may wait
        // for other hosts' opens (they take turns under an advisory lock).
        let timeout = connectTimeout ?? .seconds(60)
        connectionWait = timeout
        try await transaction { c in try await Self.createSchema(c, logger) }
    }

    private static func createSchema(_ c: PostgresNIO.PostgresConnection, _ logger: Logger) async throws {
        // Concurrent first opens by several hosts would race on the catalog.
        try await c.run("SELECT pg_advisory_xact_lock(\(Self.appendLock &+ 1))", logger: logger)
        try await c.run("CREATE SEQUENCE IF NOT EXISTS strata_event_lsn", logger: logger)
        try await c.run("CREATE TABLE IF NOT EXISTS strata_events(lsn BIGINT PRIMARY KEY, stream TEXT NOT NULL, record BYTEA NOT NULL)", logger: logger)
        try await c.run("CREATE INDEX IF NOT EXISTS strata_events_by_stream ON strata_events(stream, lsn)", logger: logger)
        try await c.run("CREATE TABLE IF NOT EXISTS strata_event_keys(key TEXT PRIMARY KEY, lsn BIGINT NOT NULL)", logger: logger)
        try await c.run("""
            CREATE TABLE IF NOT EXISTS strata_event_snapshots(stream TEXT NOT NULL, upto_lsn BIGINT NOT NULL,
                record BYTEA NOT NULL, PRIMARY KEY(stream, upto_lsn))
            """, logger: logger)
    }

    /// PostgreSQL and client errors as the message layer's kinds, through
    /// the mapping the message store uses (`PostgresErrorMapping`, password
    /// redacted), with one difference: a unique violation (SQLSTATE 23505)
    /// is an idempotency key stored by a writer that bypassed the append
    /// lock, `.duplicateKey`. A decoding failure of a returned column is
    /// `.corruption`.
    package static func mapped(_ error: any Error, secret: String? = nil) -> any Error {
        if error is PostgresDecodingError {
            return MessageStoreError(.corruption, "PostgreSQL returned a value of an unexpected type: \(error)", underlying: error)
        }
        return PostgresErrorMapping.map(error, "event store", secret: secret, duplicate: .duplicateKey)
    }

    /// The kind of a server error by its SQLSTATE, as the event store maps it.
    package static func kind(sqlState s: String) -> MessageStoreError.Kind {
        PostgresErrorMapping.kind(sqlState: s, duplicate: .duplicateKey)
    }

    private func failed(_ error: any Error) -> any Error {
        // A call that was under way when close() stopped the client.
        if closed.withLock({ $0 }), !(error is CancellationError) {
            return MessageStoreError(.closed, "PostgreSQL event store is closed", underlying: error)
        }
        // The caller cancelled (a subscription ending): the pool reports a
        // lease request cancelled, which the shared mapping calls unavailable.
        if Task.isCancelled, !(error is MessageStoreError) { return CancellationError() }
        return Self.mapped(error, secret: secret)
    }

    private func checkOpen() throws {
        if closed.withLock({ $0 }) { throw MessageStoreError(.closed, "PostgreSQL event store is closed") }
    }

    /// Runs `body` on a pooled connection, or throws `.unavailable` when no
    /// connection comes within `connectionWait` (the server is down).
    private func run<T: Sendable>(_ body: @escaping @Sendable (PostgresNIO.PostgresConnection) async throws -> T) async throws -> T {
        do { return try await ConnectionLease.with(client, waiting: connectionWait, body) } catch { throw failed(error) }
    }

    private func transaction<T: Sendable>(_ body: @escaping @Sendable (PostgresNIO.PostgresConnection) async throws -> T) async throws -> T {
        let logger = logger
        return try await run { c in
            try await c.run("BEGIN", logger: logger)
            do {
                let value = try await body(c)
                try await c.run("COMMIT", logger: logger)
                return value
            } catch {
                // The server rolls back a transaction whose connection it
                // dropped, and a ROLLBACK sent on that connection may never
                // be answered (seen after pg_terminate_backend), so only a
                // live connection gets one.
                if !c.isClosed, !PostgresErrorMapping.connectionDropped(error) { try? await c.run("ROLLBACK", logger: logger) }
                throw error
            }
        }
    }

    /// The rows of `q`, read to the end on one connection.
    private func fetch(_ q: PostgresQuery) async throws -> [PostgresRow] {
        let logger = logger
        return try await run { c in
            var out: [PostgresRow] = []
            for try await r in try await c.query(q, logger: logger) { out.append(r) }
            return out
        }
    }

    /// Appends one event (see `EventStore.append(_:)`).
    public func append(_ event: Event) async throws -> Int64 { try await append(contentsOf: [event]) }

    /// Appends a batch in one transaction (see `EventStore.append(contentsOf:)`).
    public func append(contentsOf input: [Event]) async throws -> Int64 {
        try checkOpen()
        let start = EventStoreRecorder.now
        try EventRules.validate(input)
        let options = options, logger = logger
        let synchronous = options.commitMode == .syncDurable ? "on" : "off"
        let (result, raw, stored, count) = try await transaction { c -> (Int64, Int, Int, Int) in
            // Every statement's rows are read (`run`): an error that comes
            // after the row description (a terminated backend while waiting
            // on the lock) would otherwise be dropped.
            try await c.run(PostgresQuery(unsafeSQL: "SET LOCAL synchronous_commit = \(synchronous)"), logger: logger)
            try await c.run("SELECT pg_advisory_xact_lock(\(Self.appendLock))", logger: logger)
            var known: [String: Int64] = [:]
            let keys = input.map(\.idempotencyKey)
            for try await (key, lsn) in try await c.query("SELECT key, lsn FROM strata_event_keys WHERE key = ANY(\(keys))", logger: logger)
                .decode((String, Int64).self) { known[key] = lsn }
            try EventRules.resolveKnown(input, known: known, policy: options.duplicatePolicy)
            let n = EncodedBatch.freshCount(input, known: known)
            guard n > 0 else { return (EventRules.result(input, known: known, assigned: [:]), 0, 0, 0) }
            var lsns: [Int64] = []
            for try await lsn in try await c.query("SELECT nextval('strata_event_lsn') FROM generate_series(1, \(n))", logger: logger)
                .decode(Int64.self) { lsns.append(lsn) }
            lsns.sort()
            guard lsns.count == n else { throw MessageStoreError(.invalidArgument, "sequence returned \(lsns.count) LSNs for \(n) events") }
            let batch = EncodedBatch(input, known: known, lsns: lsns, compression: options.compression)
            let records = batch.records.map { ByteBuffer(bytes: $0) }
            let streams = batch.events.map(\.stream), freshKeys = batch.events.map(\.idempotencyKey)
            try await c.run("""
                INSERT INTO strata_events(lsn, stream, record)
                SELECT * FROM unnest(\(lsns)::BIGINT[], \(streams)::TEXT[], \(records)::BYTEA[])
                """, logger: logger)
            try await c.run("INSERT INTO strata_event_keys(key, lsn) SELECT * FROM unnest(\(freshKeys)::TEXT[], \(lsns)::BIGINT[])", logger: logger)
            return (EventRules.result(input, known: known, assigned: batch.assigned), batch.rawBytes, batch.storedBytes, n)
        }
        recorder.appended(events: count, rawBytes: raw, storedBytes: stored, start: start)
        if count > 0 { arrivals.notify() }
        return result
    }

    /// Events of `stream` after `lsn` (see `EventStore.load`), verified.
    public func load(stream: String, after lsn: Int64, limit: Int) async throws -> [Event] {
        try checkOpen()
        guard limit > 0 else { return [] }
        let rows = try await fetch("SELECT lsn, record FROM strata_events WHERE stream = \(stream) AND lsn > \(lsn) ORDER BY lsn LIMIT \(limit)")
        do {
            return try rows.map { row in
                let (l, record) = try row.decode((Int64, ByteBuffer).self)
                return try EventCodec.decode(Array(record.readableBytesView), stream: stream, lsn: l)
            }
        } catch { throw Self.mapped(error, secret: secret) }
    }

    /// The LSN stored under `key`, or nil.
    public func lsn(forIdempotencyKey key: String) async throws -> Int64? {
        try checkOpen()
        let rows = try await fetch("SELECT lsn FROM strata_event_keys WHERE key = \(key)")
        do { return try rows.first?.decode(Int64.self) } catch { throw Self.mapped(error, secret: secret) }
    }

    /// The snapshot of `stream` with the highest `uptoLSN`, verified.
    public func latestSnapshot(stream: String) async throws -> EventSnapshot? {
        try checkOpen()
        let rows = try await fetch("SELECT upto_lsn, record FROM strata_event_snapshots WHERE stream = \(stream) ORDER BY upto_lsn DESC LIMIT 1")
        guard let row = rows.first else { return nil }
        do {
            let (upto, record) = try row.decode((Int64, ByteBuffer).self)
            return try EventCodec.decodeSnapshot(Array(record.readableBytesView), stream: stream, uptoLSN: upto)
        } catch { throw Self.mapped(error, secret: secret) }
    }

    /// Stores a snapshot (replacing one with the same `uptoLSN`).
    public func writeSnapshot(_ snapshot: EventSnapshot) async throws {
        try checkOpen()
        try EventRules.validate(snapshot)
        let (record, storedState) = EventCodec.encode(snapshot, compression: options.compression)
        let buffer = ByteBuffer(bytes: record), logger = logger
        // In a transaction block: its COMMIT answers after the commit, where
        // a lone statement's rows come back before it (PostgresSchema, "Why
        // the hot writes are procedures").
        try await transaction { c in
            try await c.run("""
                INSERT INTO strata_event_snapshots(stream, upto_lsn, record) VALUES (\(snapshot.stream), \(snapshot.uptoLSN), \(buffer))
                ON CONFLICT (stream, upto_lsn) DO UPDATE SET record = EXCLUDED.record
                """, logger: logger)
        }
        recorder.snapshotWritten(rawBytes: snapshot.state.count, storedBytes: storedState)
    }

    /// Deletes the events and older snapshots the latest snapshot covers, in one transaction.
    public func compact(stream: String) async throws {
        try checkOpen()
        let logger = logger
        try await transaction { c in
            var upto: Int64?
            for try await u in try await c.query("SELECT max(upto_lsn) FROM strata_event_snapshots WHERE stream = \(stream)", logger: logger)
                .decode(Int64?.self) { upto = u }
            guard let upto else { return }
            try await c.run("DELETE FROM strata_events WHERE stream = \(stream) AND lsn <= \(upto)", logger: logger)
            try await c.run("DELETE FROM strata_event_snapshots WHERE stream = \(stream) AND upto_lsn < \(upto)", logger: logger)
        }
    }

    /// A catch-up subscription: woken by this store's appends, and
    /// re-reading every 50 ms for appends by other hosts.
    public func events(stream: String, after lsn: Int64) -> EventSubscription {
        EventSubscription(after: lsn, arrivals: arrivals) { [self] after, limit in try await load(stream: stream, after: after, limit: limit) }
    }

    /// Critical when closed or when the server does not answer.
    public func health() async -> StoreHealth {
        if closed.withLock({ $0 }) { return .critical([HealthReason(.closed, .critical, "PostgreSQL event store is closed")]) }
        do {
            _ = try await fetch("SELECT 1")
            return .healthy
        } catch {
            return .critical([HealthReason(.connectionLost, .critical, "PostgreSQL: \(error)")])
        }
    }

    /// The stored record of event `lsn` of `stream` (tests damage it).
    package func storedRecord(stream: String, lsn: Int64) async throws -> [UInt8]? {
        let rows = try await fetch("SELECT record FROM strata_events WHERE stream = \(stream) AND lsn = \(lsn)")
        return try rows.first.map { Array(try $0.decode(ByteBuffer.self).readableBytesView) }
    }

    /// Overwrites the stored record of event `lsn` of `stream` (tests damage it).
    package func replaceStoredRecord(stream: String, lsn: Int64, with record: [UInt8]) async throws {
        let buffer = ByteBuffer(bytes: record)
        _ = try await fetch("UPDATE strata_events SET record = \(buffer) WHERE stream = \(stream) AND lsn = \(lsn)")
    }

    /// Removes every event, key and snapshot (tests start from an empty store).
    package func removeEverything() async throws {
        _ = try await fetch("TRUNCATE strata_events, strata_event_keys, strata_event_snapshots")
    }

    /// Stops the client if the store started it; later calls throw `.closed`.
    public func close() async throws {
        closed.withLock { $0 = true }
        arrivals.notify()
        runner?.cancel()
    }
}
