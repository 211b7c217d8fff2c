import Foundation
import StrataMessageCore

/// Event streams in one SQLite file (WAL journal), the event-sourcing seed's
/// own backend. Schema (Docs/message-store.md, "Event streams"):
/// `events(lsn INTEGER PRIMARY KEY, stream, record)` indexed by `(stream,
/// lsn)`; `event_keys(key PRIMARY KEY, lsn)` — idempotency keys in a table
/// of their own so they outlive `compact(stream:)`; `event_snapshots(stream,
/// upto_lsn, record)` keyed by both; `event_meta(last_lsn)`, the counter LSNs
/// come from (never reused, even after every event of the tail is compacted).
/// Records are `EventCodec`'s, as on every backend.
///
/// Every statement runs on the store's serial queue (`SQLiteExecutor`), so
/// callers suspend instead of blocking the cooperative pool, a cancelled
/// caller stops waiting for another process's lock, and appends commit in LSN order
/// (LSNs are taken inside the write transaction, so several processes on one
/// file stay gap-free too). Commit modes map to `PRAGMA synchronous`:
/// `.syncDurable` FULL, `.asyncDurable` NORMAL, `.memoryOnly` OFF.
public final class SQLiteEventStore: EventStore {
    private let executor: SQLiteExecutor
    private let options: EventStoreOptions
    private let arrivals = EventArrivals()
    /// The SQLite file.
    public let path: String
    /// The store's metric instruments (`backend` = `sqlite`).
    public let recorder = EventStoreRecorder(backend: "sqlite")

    /// Opens (creating if needed) the event store in the SQLite file at `path`.
    public init(path: String, options: EventStoreOptions = EventStoreOptions()) throws {
        self.path = path
        self.options = options
        let c = try SQLiteConnection(path: path)
        let synchronous: String
        switch options.commitMode {
        case .syncDurable: synchronous = "FULL"
        case .asyncDurable: synchronous = "NORMAL"
        case .memoryOnly: synchronous = "OFF"
        }
        do {
            try c.exec("""
                PRAGMA journal_mode=WAL;
                PRAGMA synchronous=\(synchronous);
                """)
            try SQLiteSchema.migrate(c, .eventStore)
        } catch {
            c.close()
            throw error
        }
        executor = SQLiteExecutor(c, label: "strata.sqlite-events", closedMessage: "event store \(path) is closed")
    }

    /// Runs `body` on the store's queue; the caller suspends meanwhile.
    private func run<T: Sendable>(_ body: @escaping @Sendable (SQLiteConnection) throws -> T) async throws -> T {
        try await executor.run(body)
    }

    /// Appends one event (see `EventStore.append(_:)`).
    public func append(_ event: Event) async throws -> Int64 { try await append(contentsOf: [event]) }

    /// Appends a batch in one transaction (see `EventStore.append(contentsOf:)`).
    public func append(contentsOf input: [Event]) async throws -> Int64 {
        let start = EventStoreRecorder.now
        try EventRules.validate(input)
        let options = options
        let (result, raw, stored, count) = try await run { c -> (Int64, Int, Int, Int) in
            try c.transaction {
                var known: [String: Int64] = [:]
                for e in input {
                    try c.query("SELECT lsn FROM event_keys WHERE key = ?1", [.text(e.idempotencyKey)]) { row in
                        known[e.idempotencyKey] = row.int(0)
                        return false
                    }
                }
                try EventRules.resolveKnown(input, known: known, policy: options.duplicatePolicy)
                var next: Int64 = 0
                try c.query("SELECT last_lsn FROM event_meta WHERE k = 0") { row in
                    next = row.int(0) + 1
                    return false
                }
                let n = EncodedBatch.freshCount(input, known: known)
                let batch = EncodedBatch(input, known: known, lsns: next..<next + Int64(n), compression: options.compression)
                for (e, record) in zip(batch.events, batch.records) {
                    try c.query("INSERT INTO events(lsn, stream, record) VALUES (?1, ?2, ?3)", [.int(e.lsn), .text(e.stream), .blob(record)])
                    try c.query("INSERT INTO event_keys(key, lsn) VALUES (?1, ?2)", [.text(e.idempotencyKey), .int(e.lsn)])
                }
                if n > 0 { try c.query("UPDATE event_meta SET last_lsn = ?1 WHERE k = 0", [.int(next + Int64(n) - 1)]) }
                return (EventRules.result(input, known: known, assigned: batch.assigned), batch.rawBytes, batch.storedBytes, n)
            }
        }
        recorder.appended(events: count, rawBytes: raw, storedBytes: stored, start: start)
        if count > 0 { arrivals.notify() }
        return result
    }

    /// Events of `stream` after `lsn` (see `EventStore.load`), verified.
    public func load(stream: String, after lsn: Int64, limit: Int) async throws -> [Event] {
        guard limit > 0 else { return [] }
        let rows = try await run { c -> [(Int64, [UInt8])] in
            var rows: [(Int64, [UInt8])] = []
            try c.query("SELECT lsn, record FROM events WHERE stream = ?1 AND lsn > ?2 ORDER BY lsn LIMIT ?3",
                        [.text(stream), .int(lsn), .int(Int64(limit))]) { row in
                rows.append((row.int(0), row.blob(1)))
                return true
            }
            return rows
        }
        return try rows.map { try EventCodec.decode($0.1, stream: stream, lsn: $0.0) }
    }

    /// The LSN stored under `key`, or nil.
    public func lsn(forIdempotencyKey key: String) async throws -> Int64? {
        try await run { c in
            var lsn: Int64?
            try c.query("SELECT lsn FROM event_keys WHERE key = ?1", [.text(key)]) { row in
                lsn = row.int(0)
                return false
            }
            return lsn
        }
    }

    /// The snapshot of `stream` with the highest `uptoLSN`, verified.
    public func latestSnapshot(stream: String) async throws -> EventSnapshot? {
        let row = try await run { c -> (Int64, [UInt8])? in
            var found: (Int64, [UInt8])?
            try c.query("SELECT upto_lsn, record FROM event_snapshots WHERE stream = ?1 ORDER BY upto_lsn DESC LIMIT 1", [.text(stream)]) { row in
                found = (row.int(0), row.blob(1))
                return false
            }
            return found
        }
        guard let row else { return nil }
        return try EventCodec.decodeSnapshot(row.1, stream: stream, uptoLSN: row.0)
    }

    /// Stores a snapshot (replacing one with the same `uptoLSN`).
    public func writeSnapshot(_ snapshot: EventSnapshot) async throws {
        try EventRules.validate(snapshot)
        let (record, storedState) = EventCodec.encode(snapshot, compression: options.compression)
        try await run { c in
            try c.query("INSERT OR REPLACE INTO event_snapshots(stream, upto_lsn, record) VALUES (?1, ?2, ?3)",
                        [.text(snapshot.stream), .int(snapshot.uptoLSN), .blob(record)])
        }
        recorder.snapshotWritten(rawBytes: snapshot.state.count, storedBytes: storedState)
    }

    /// Deletes the events and older snapshots the latest snapshot covers, in one transaction.
    public func compact(stream: String) async throws {
        try await run { c in
            try c.transaction {
                var upto: Int64?
                try c.query("SELECT max(upto_lsn) FROM event_snapshots WHERE stream = ?1", [.text(stream)]) { row in
                    upto = row.isNull(0) ? nil : row.int(0)
                    return false
                }
                guard let upto else { return }
                try c.query("DELETE FROM events WHERE stream = ?1 AND lsn <= ?2", [.text(stream), .int(upto)])
                try c.query("DELETE FROM event_snapshots WHERE stream = ?1 AND upto_lsn < ?2", [.text(stream), .int(upto)])
            }
        }
    }

    /// A catch-up subscription: woken by this store's appends, and re-reading
    /// every 50 ms for appends by other processes on the file.
    public func events(stream: String, after lsn: Int64) -> EventSubscription {
        EventSubscription(after: lsn, arrivals: arrivals) { [self] after, limit in try await load(stream: stream, after: after, limit: limit) }
    }

    /// Critical when closed or when a trivial query fails.
    public func health() async -> StoreHealth {
        do {
            try await run { c in try c.query("SELECT count(*) FROM event_meta") }
            return .healthy
        } catch let e as MessageStoreError where e.kind == .closed {
            return .critical([HealthReason(.closed, .critical, "\(path): \(e.message)")])
        } catch {
            return .critical([HealthReason(.ioError, .critical, "\(path): \(error)")])
        }
    }

    /// The stored record of event `lsn` of `stream` (tests damage it).
    package func storedRecord(stream: String, lsn: Int64) async throws -> [UInt8]? {
        try await run { c in
            var r: [UInt8]?
            try c.query("SELECT record FROM events WHERE stream = ?1 AND lsn = ?2", [.text(stream), .int(lsn)]) { row in
                r = row.blob(0)
                return false
            }
            return r
        }
    }

    /// Overwrites the stored record of event `lsn` of `stream` (tests damage it).
    package func replaceStoredRecord(stream: String, lsn: Int64, with record: [UInt8]) async throws {
        try await run { c in try c.query("UPDATE events SET record = ?3 WHERE stream = ?1 AND lsn = ?2", [.text(stream), .int(lsn), .blob(record)]) }
    }

    /// Closes the connection (after the statements already queued); later calls throw `.closed`.
    public func close() async throws {
        try await executor.replacing { c in
            c?.close()
            c = nil
        }
        arrivals.notify()
    }
}
