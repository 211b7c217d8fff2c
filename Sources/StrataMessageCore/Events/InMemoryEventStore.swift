import Foundation

/// The reference event store: everything in dictionaries behind one lock,
/// written to be obviously right rather than fast — the differential test
/// compares every backend with it. Nothing survives the process. Records
/// are kept as the shared `EventCodec` bytes, so checksums and compression
/// behave as on the other backends.
public final class InMemoryEventStore: EventStore {
    private struct State {
        var next: Int64 = 1
        /// stream → LSN → record.
        var events: [String: [Int64: [UInt8]]] = [:]
        var keys: [String: Int64] = [:]
        /// stream → uptoLSN → record.
        var snapshots: [String: [Int64: [UInt8]]] = [:]
        var closed = false
    }
    private let state = StoreLock(State())
    private let options: EventStoreOptions
    private let arrivals = EventArrivals()
    /// The store's metric instruments.
    public let recorder = EventStoreRecorder(backend: "memory")

    /// An empty store.
    public init(options: EventStoreOptions = EventStoreOptions()) { self.options = options }

    private func withState<T>(_ body: (inout State) throws -> T) throws -> T {
        try state.withLock { s in
            guard !s.closed else { throw MessageStoreError(.closed, "in-memory event store is closed") }
            return try body(&s)
        }
    }

    /// Appends one event (see `EventStore.append(_:)`).
    public func append(_ event: Event) async throws -> Int64 { try await append(contentsOf: [event]) }

    /// Appends a batch atomically (see `EventStore.append(contentsOf:)`).
    public func append(contentsOf input: [Event]) async throws -> Int64 {
        let start = EventStoreRecorder.now
        try EventRules.validate(input)
        let (result, raw, stored, count) = try withState { s -> (Int64, Int, Int, Int) in
            var known: [String: Int64] = [:]
            for e in input { if let l = s.keys[e.idempotencyKey] { known[e.idempotencyKey] = l } }
            try EventRules.resolveKnown(input, known: known, policy: options.duplicatePolicy)
            let n = EncodedBatch.freshCount(input, known: known)
            let batch = EncodedBatch(input, known: known, lsns: s.next..<s.next + Int64(n), compression: options.compression)
            s.next += Int64(n)
            for (e, record) in zip(batch.events, batch.records) {
                s.events[e.stream, default: [:]][e.lsn] = record
                s.keys[e.idempotencyKey] = e.lsn
            }
            return (EventRules.result(input, known: known, assigned: batch.assigned), batch.rawBytes, batch.storedBytes, n)
        }
        recorder.appended(events: count, rawBytes: raw, storedBytes: stored, start: start)
        if count > 0 { arrivals.notify() }
        return result
    }

    /// Events of `stream` after `lsn` (see `EventStore.load`).
    public func load(stream: String, after lsn: Int64, limit: Int) async throws -> [Event] {
        guard limit > 0 else { return [] }
        let records = try withState { s in (s.events[stream] ?? [:]).filter { $0.key > lsn }.sorted { $0.key < $1.key }.prefix(limit) }
        return try records.map { try EventCodec.decode($0.value, stream: stream, lsn: $0.key) }
    }

    /// The LSN stored under `key`, or nil.
    public func lsn(forIdempotencyKey key: String) async throws -> Int64? { try withState { $0.keys[key] } }

    /// The snapshot of `stream` with the highest `uptoLSN`.
    public func latestSnapshot(stream: String) async throws -> EventSnapshot? {
        guard let found = try withState({ s in s.snapshots[stream]?.max { $0.key < $1.key } }) else { return nil }
        return try EventCodec.decodeSnapshot(found.value, stream: stream, uptoLSN: found.key)
    }

    /// Stores a snapshot (replacing one with the same `uptoLSN`).
    public func writeSnapshot(_ snapshot: EventSnapshot) async throws {
        try EventRules.validate(snapshot)
        let (record, storedState) = EventCodec.encode(snapshot, compression: options.compression)
        try withState { $0.snapshots[snapshot.stream, default: [:]][snapshot.uptoLSN] = record }
        recorder.snapshotWritten(rawBytes: snapshot.state.count, storedBytes: storedState)
    }

    /// Drops the events and older snapshots the latest snapshot covers.
    public func compact(stream: String) async throws {
        try withState { s in
            guard let upto = s.snapshots[stream]?.keys.max() else { return }
            s.events[stream] = s.events[stream]?.filter { $0.key > upto }
            s.snapshots[stream] = s.snapshots[stream]?.filter { $0.key >= upto }
        }
    }

    /// A catch-up subscription (see `EventStore.events(stream:after:)`).
    public func events(stream: String, after lsn: Int64) -> EventSubscription {
        EventSubscription(after: lsn, arrivals: arrivals) { [self] after, limit in try await load(stream: stream, after: after, limit: limit) }
    }

    /// Healthy until closed.
    public func health() async -> StoreHealth {
        state.withLock { $0.closed } ? .critical([HealthReason(.closed, .critical, "in-memory event store is closed")]) : .healthy
    }

    /// Overwrites the stored record of event `lsn` of `stream` (tests damage it).
    package func replaceStoredRecord(stream: String, lsn: Int64, with record: [UInt8]) async throws {
        state.withLock { $0.events[stream]?[lsn] = record }
    }

    /// The stored record of event `lsn` of `stream`.
    package func storedRecord(stream: String, lsn: Int64) async throws -> [UInt8]? { state.withLock { $0.events[stream]?[lsn] } }

    /// Closes the store; later calls throw `.closed`.
    public func close() async throws {
        state.withLock { $0.closed = true }
        arrivals.notify()
    }
}
