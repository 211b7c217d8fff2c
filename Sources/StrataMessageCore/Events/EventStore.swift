import Foundation

/// One event of a stream (the event-sourcing seed's persisted event).
public struct Event: Sendable, Equatable {
    /// The stream (aggregate, document) the event belongs to.
    public var stream: String
    /// Log sequence number: assigned by `append`, increasing across the
    /// store (0 on an event not yet appended).
    public var lsn: Int64
    /// When the event happened.
    public var timestamp: Date
    /// Appending an event whose key the store has seen returns the earlier
    /// event's LSN instead of appending again (safe retries).
    public var idempotencyKey: String
    /// The event body.
    public var payload: [UInt8]
    /// Application metadata (actor, transaction id, schema version …).
    public var metadata: [String: String]
    /// CRC32C of the stored record — every field (stream, idempotency key,
    /// LSN, timestamp, metadata, payload as stored) — computed by the store
    /// and verified on every load; records of the first version carry a
    /// payload-only CRC32C.
    public var checksum: UInt32

    /// An event to append; `idempotencyKey` defaults to a fresh UUID.
    public init(stream: String, payload: [UInt8], idempotencyKey: String = UUID().uuidString,
                timestamp: Date = Date(), metadata: [String: String] = [:]) {
        self.stream = stream
        self.lsn = 0
        self.timestamp = timestamp
        self.idempotencyKey = idempotencyKey
        self.payload = payload
        self.metadata = metadata
        self.checksum = 0
    }
}

/// A stream's state as of an LSN: recovery loads the latest snapshot, then
/// the events after `uptoLSN`.
public struct EventSnapshot: Sendable, Equatable {
    /// The stream.
    public var stream: String
    /// The last event the state includes.
    public var uptoLSN: Int64
    /// When the snapshot was taken.
    public var createdAt: Date
    /// The serialised state.
    public var state: [UInt8]
    /// The application's snapshot format version.
    public var version: Int

    /// A snapshot of `stream` up to `uptoLSN`.
    public init(stream: String, uptoLSN: Int64, state: [UInt8], version: Int = 1, createdAt: Date = Date()) {
        self.stream = stream
        self.uptoLSN = uptoLSN
        self.createdAt = createdAt
        self.state = state
        self.version = version
    }
}

/// Append-only event streams with snapshots (API.md's `EventStore`).
/// Backends: `LSMEventStore`, `SQLiteEventStore`, `PostgresEventStore` and
/// the in-memory reference `InMemoryEventStore`; all pass one contract suite.
public protocol EventStore: Sendable {
    /// Appends one event; returns its LSN. For a known idempotency key the
    /// `duplicatePolicy` decides: the LSN the key got the first time, or
    /// `MessageStoreError` of kind `.duplicateKey` carrying that LSN.
    func append(_ event: Event) async throws -> Int64
    /// Appends events atomically, in order. Under `.returnExisting`, events
    /// with known idempotency keys are skipped; under `.fail` one known key
    /// fails the whole batch. Returns the LSN of the batch's last event
    /// (its first LSN if the last was a known key). Concurrent appends of
    /// one key store one event and every caller gets its LSN.
    func append(contentsOf events: [Event]) async throws -> Int64
    /// Up to `limit` events of `stream` with LSN greater than `lsn`, in LSN
    /// order. Only events whose every predecessor is durable are returned,
    /// so a reader that resumes after the last LSN it saw misses nothing.
    /// A damaged record is `.corruption` naming the stream and LSN.
    func load(stream: String, after lsn: Int64, limit: Int) async throws -> [Event]
    /// The LSN stored under `key`, or nil.
    func lsn(forIdempotencyKey key: String) async throws -> Int64?
    /// The stream's snapshot with the highest `uptoLSN`, or nil.
    func latestSnapshot(stream: String) async throws -> EventSnapshot?
    /// Stores a snapshot (replacing one with the same `uptoLSN`).
    func writeSnapshot(_ snapshot: EventSnapshot) async throws
    /// Deletes the events and older snapshots the latest snapshot covers;
    /// what it does not cover stays. Idempotency keys stay (a retry of a
    /// compacted event still gets its LSN).
    func compact(stream: String) async throws
    /// A catch-up subscription: the stored events of `stream` after `lsn`,
    /// then new ones as they are appended — gap-free and in LSN order with
    /// concurrent appenders; it ends (returns nil) when its task is cancelled.
    func events(stream: String, after lsn: Int64) -> EventSubscription
    /// The store's figures since it was opened (also reported through
    /// swift-metrics under `strata_events_*`).
    func metrics() -> EventStoreMetrics
    /// Whether the store can serve appends and loads, with reasons (the
    /// message stores' `StoreHealth`).
    func health() async -> StoreHealth
    /// The instruments the recovery helper reports its time through.
    var recorder: EventStoreRecorder { get }
    /// Flushes and releases the store; later calls throw `.closed`.
    func close() async throws
}

extension EventStore {
    /// The store's figures (see `EventStoreRecorder`).
    public func metrics() -> EventStoreMetrics { recorder.value }
}
