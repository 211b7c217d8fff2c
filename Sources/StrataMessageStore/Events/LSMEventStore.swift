import Foundation
import Strata

/// Event streams on the Strata engine. Column families: `events` (key
/// `stream length (2 BE) | stream | LSN (8 BE)` → event record), `event-keys`
/// (`1 | idempotency key` → LSN, 8 bytes BE; `0 | LSN (8 BE)` → empty, the
/// highest LSN of each append batch, older ones range-deleted every 4,096
/// LSNs) and `snapshots` (key `stream length |
/// stream | uptoLSN (8 BE)` → snapshot record); an event and its idempotency
/// key are written in one batch. Records are `EventCodec`'s (checksum over
/// every field, LZ4 above the threshold), documented in Docs/message-store.md.
///
/// LSNs are handed out under a lock, and an event becomes loadable only
/// when every smaller LSN has been written (the watermark), so concurrent
/// appends never open a gap a reader could skip. Idempotency: the lookup of
/// a batch's keys and the reservation of the new ones happen under the same
/// lock, and a reservation lives until its write has finished; an append
/// that meets a key reserved by another append waits for that one and
/// starts over, so one key is stored once and every caller gets its LSN.
public final class LSMEventStore: EventStore {
    private let db: Database
    private let events: ColumnFamily
    private let keys: ColumnFamily
    private let snapshots: ColumnFamily
    private let writeOptions: WriteOptions
    private let options: EventStoreOptions
    private let arrivals = EventArrivals()
    private let path: String
    /// The store's metric instruments (`backend` = `lsm`).
    public let recorder = EventStoreRecorder(backend: "lsm")

    /// An append in flight: the keys it reserved wait on it.
    private final class InFlight: Sendable {
        private let state = StoreLock((done: false, waiters: [CheckedContinuation<Void, Never>]()))
        func finish() {
            let waiters = state.withLock { s in
                s.done = true
                defer { s.waiters = [] }
                return s.waiters
            }
            for w in waiters { w.resume() }
        }
        func wait() async {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let done = state.withLock { s in
                    if !s.done { s.waiters.append(c) }
                    return s.done
                }
                if done { c.resume() }
            }
        }
    }

    private struct Sequencer {
        var next: Int64
        var watermark: Int64
        /// Written LSNs above the watermark, waiting for their predecessors.
        var done: Set<Int64> = []
        /// Idempotency keys reserved by appends in flight.
        var inFlight: [String: InFlight] = [:]
        var closed = false
    }
    private let sequencer: StoreLock<Sequencer>

    /// Opens (creating if needed) an event store at `path`; `engine` are the
    /// options of the engine under it (file system, caches, logger).
    public static func open(at path: String, options: EventStoreOptions = EventStoreOptions(), engine: Options = Options()) async throws -> LSMEventStore {
        try LSMEventStore(path: path, options: options, engine: engine)
    }

    /// Opens a store with the message store's options (their commit mode,
    /// engine options and per-family options).
    public static func open(at path: String, options: MessageStoreOptions) async throws -> LSMEventStore {
        let mode: EventStoreOptions.CommitMode
        switch options.commitMode {
        case .memoryOnly: mode = .memoryOnly
        case .asyncDurable(let w): mode = .asyncDurable(groupWindow: w)
        case .syncDurable: mode = .syncDurable
        }
        return try LSMEventStore(path: path, options: EventStoreOptions(commitMode: mode), engine: options.engine,
                                 families: options.columnFamilyOptions)
    }

    private init(path: String, options: EventStoreOptions, engine: Options, families: [String: ColumnFamilyOptions] = [:]) throws {
        let db: Database
        do { db = try Database.open(at: path, options: engine) } catch { throw Self.mapped(error) }
        // A family created here takes the engine's write buffer, compression,
        // block size and bloom bits unless `families` names it.
        func family(_ name: String) throws -> ColumnFamily {
            try db.family(name, creatingWith: families[name] ?? ColumnFamilyOptions(inheriting: engine))
        }
        self.db = db
        self.path = path
        self.options = options
        events = try family("events")
        keys = try family("event-keys")
        snapshots = try family("snapshots")
        switch options.commitMode {
        case .memoryOnly: writeOptions = WriteOptions(commitMode: .memoryOnly)
        case .asyncDurable(let w): writeOptions = WriteOptions(commitMode: .asyncDurable(groupWindow: w))
        case .syncDurable: writeOptions = WriteOptions(commitMode: .syncDurable)
        }
        // The highest LSN stored: `events` is ordered by stream, not LSN, so
        // every batch leaves a `0 | LSN` marker; the largest one wins.
        var last: Int64 = 0
        let it = try db.makeIterator(in: keys, options: ReadOptions(lowerBound: [0], upperBound: [1]))
        it.seekToLast()
        if it.isValid { last = try Self.int64(Array(it.key.dropFirst()), "LSN marker") }
        try it.checkStatus()
        sequencer = StoreLock(Sequencer(next: last + 1, watermark: last))
    }

    /// Engine errors as the message layer's vocabulary (the kind kept, the
    /// engine's message as context).
    private static func mapped(_ error: any Error) -> any Error {
        guard let e = error as? StrataError else { return error }
        return MessageStoreError(engine: e)
    }

    private static func marker(_ lsn: Int64) -> [UInt8] {
        var k: [UInt8] = [0]
        MessageCodec.appendBigEndian(&k, UInt64(bitPattern: lsn))
        return k
    }

    /// LSNs between sweeps of superseded batch markers.
    private static let markerSweep: Int64 = 4096

    private static func idempotencyKey(_ key: String) -> [UInt8] { [1] + Array(key.utf8) }

    private static func streamKey(_ stream: String, _ lsn: Int64) -> [UInt8] {
        var k = MessageCodec.queuePrefix(stream)
        MessageCodec.appendBigEndian(&k, UInt64(bitPattern: lsn))
        return k
    }

    private static func lsnOfKey(_ key: [UInt8]) -> Int64 { Int64(bitPattern: MessageCodec.readBigEndian(key[(key.count - 8)...])) }

    private static func int64(_ b: [UInt8], _ what: String) throws -> Int64 {
        guard b.count == 8 else { throw MessageStoreError(.corruption, "\(what): \(b.count) bytes, expected 8") }
        return Int64(bitPattern: MessageCodec.readBigEndian(b[...]))
    }

    private func checkOpen() throws {
        if sequencer.withLock({ $0.closed }) { throw MessageStoreError(.closed, "event store at \(path) is closed") }
    }

    /// Appends one event (see `EventStore.append(_:)`).
    public func append(_ event: Event) async throws -> Int64 { try await append(contentsOf: [event]) }

    /// Outcome of one attempt at reserving a batch's keys.
    private enum Reservation {
        case wait(InFlight)
        case reserved(fresh: [Event], known: [String: Int64], mine: InFlight)
    }

    /// Appends a batch atomically (see `EventStore.append(contentsOf:)`).
    public func append(contentsOf input: [Event]) async throws -> Int64 {
        let start = EventStoreRecorder.now
        try EventRules.validate(input)
        while true {
            let attempt = try mappingEngineErrors { try reserve(input) }
            switch attempt {
            case .wait(let other):
                // Another append holds one of these keys: once it has
                // finished, the key is stored (or its write failed), so the
                // next attempt sees the truth.
                await other.wait()
            case .reserved(let fresh, let known, let mine):
                defer { mine.finish() }
                return try await write(input, fresh: fresh, known: known, mine: mine, start: start)
            }
        }
    }

    /// Under the sequencer lock: the batch's stored keys, or the append it
    /// must wait for, or the new keys reserved with their LSNs. The lookups
    /// run under the lock (reads of the memtable or cached blocks, mostly)
    /// because a lookup outside it could miss a key another append stores
    /// and releases in between.
    private func reserve(_ input: [Event]) throws -> Reservation {
        try sequencer.withLock { s -> Reservation in
            guard !s.closed else { throw MessageStoreError(.closed, "event store at \(path) is closed") }
            var known: [String: Int64] = [:]
            for e in input {
                if let other = s.inFlight[e.idempotencyKey] { return .wait(other) }
                if let raw = try db.get(Self.idempotencyKey(e.idempotencyKey), in: keys) {
                    known[e.idempotencyKey] = try Self.int64(raw, "idempotency key \(e.idempotencyKey)")
                }
            }
            try EventRules.resolveKnown(input, known: known, policy: options.duplicatePolicy)
            let mine = InFlight()
            var fresh: [Event] = []
            for var e in input where known[e.idempotencyKey] == nil {
                e.lsn = s.next
                s.next += 1
                s.inFlight[e.idempotencyKey] = mine
                fresh.append(e)
            }
            return .reserved(fresh: fresh, known: known, mine: mine)
        }
    }

    private func write(_ input: [Event], fresh: [Event], known: [String: Int64], mine: InFlight, start: UInt64) async throws -> Int64 {
        let encoded = EncodedBatch(input, known: known, lsns: fresh.map(\.lsn), compression: options.compression)
        let result = EventRules.result(input, known: known, assigned: encoded.assigned)
        guard let first = fresh.first, let last = fresh.last else { return result }
        var batch = WriteBatch()
        for (e, record) in zip(encoded.events, encoded.records) {
            batch.put(Self.streamKey(e.stream, e.lsn), record, in: events)
            var lsn: [UInt8] = []
            MessageCodec.appendBigEndian(&lsn, UInt64(bitPattern: e.lsn))
            batch.put(Self.idempotencyKey(e.idempotencyKey), lsn, in: keys)
        }
        // Markers below this batch's first LSN are superseded (a batch that
        // lands later with smaller LSNs never deletes a larger marker). They
        // are range-deleted only when a batch crosses a multiple of
        // `markerSweep` LSNs: a range tombstone per append made every key
        // lookup and write scan thousands of them (64 concurrent
        // single-event appenders ran at 36 events/s).
        if (first.lsn - 1) / Self.markerSweep != last.lsn / Self.markerSweep {
            batch.deleteRange(from: [0], to: Self.marker(first.lsn), in: keys)
        }
        batch.put(Self.marker(last.lsn), [], in: keys)
        var failure: (any Error)?
        do { try await db.write(batch, options: writeOptions) } catch { failure = Self.mapped(error) }
        sequencer.withLock { s in
            for e in fresh where s.inFlight[e.idempotencyKey] === mine { s.inFlight[e.idempotencyKey] = nil }
            // A failed write leaves a hole; the engine is read-only after it,
            // so the watermark stops below the hole until reopen.
            guard failure == nil else { return }
            s.done.formUnion(fresh.map(\.lsn))
            while s.done.remove(s.watermark + 1) != nil { s.watermark += 1 }
        }
        if let failure { throw failure }
        recorder.appended(events: fresh.count, rawBytes: encoded.rawBytes, storedBytes: encoded.storedBytes, start: start)
        arrivals.notify()
        return result
    }

    /// Events of `stream` after `lsn`, up to the watermark (see `EventStore.load`).
    public func load(stream: String, after lsn: Int64, limit: Int) async throws -> [Event] {
        try mappingEngineErrors { try loadSync(stream: stream, after: lsn, limit: limit) }
    }

    private func loadSync(stream: String, after lsn: Int64, limit: Int) throws -> [Event] {
        try checkOpen()
        guard limit > 0 else { return [] }
        let watermark = sequencer.withLock { $0.watermark }
        guard lsn < watermark else { return [] }
        let it = try db.makeIterator(in: events, options: ReadOptions(
            lowerBound: Self.streamKey(stream, max(0, lsn) + 1), upperBound: Self.streamKey(stream, watermark + 1)))
        it.seekToFirst()
        var out: [Event] = []
        while it.isValid && out.count < limit {
            out.append(try EventCodec.decode(it.value, stream: stream, lsn: Self.lsnOfKey(it.key)))
            it.next()
        }
        try it.checkStatus()
        return out
    }

    /// The LSN stored under `key`, or nil.
    public func lsn(forIdempotencyKey key: String) async throws -> Int64? {
        try checkOpen()
        guard let raw = try mappingEngineErrors({ try db.get(Self.idempotencyKey(key), in: keys) }) else { return nil }
        return try Self.int64(raw, "idempotency key \(key)")
    }

    /// The snapshot of `stream` with the highest `uptoLSN`, verified.
    public func latestSnapshot(stream: String) async throws -> EventSnapshot? {
        try mappingEngineErrors { try latestSnapshotSync(stream: stream) }
    }

    private func latestSnapshotSync(stream: String) throws -> EventSnapshot? {
        try checkOpen()
        let it = try db.makeIterator(in: snapshots, options: ReadOptions(
            lowerBound: MessageCodec.queuePrefix(stream), upperBound: MessageCodec.queueEnd(stream)))
        it.seekToLast()
        guard it.isValid else {
            try it.checkStatus()
            return nil
        }
        return try EventCodec.decodeSnapshot(it.value, stream: stream, uptoLSN: Self.lsnOfKey(it.key))
    }

    /// Stores a snapshot (replacing one with the same `uptoLSN`).
    public func writeSnapshot(_ snapshot: EventSnapshot) async throws {
        try checkOpen()
        try EventRules.validate(snapshot)
        let (record, storedState) = EventCodec.encode(snapshot, compression: options.compression)
        var batch = WriteBatch()
        batch.put(Self.streamKey(snapshot.stream, snapshot.uptoLSN), record, in: snapshots)
        do { try await db.write(batch, options: writeOptions) } catch { throw Self.mapped(error) }
        recorder.snapshotWritten(rawBytes: snapshot.state.count, storedBytes: storedState)
    }

    /// Range-deletes the events and older snapshots the latest snapshot
    /// covers, then compacts the stream's range so the space is reclaimed.
    public func compact(stream: String) async throws {
        guard let snap = try await latestSnapshot(stream: stream) else { return }
        var batch = WriteBatch()
        batch.deleteRange(from: MessageCodec.queuePrefix(stream), to: Self.streamKey(stream, snap.uptoLSN + 1), in: events)
        batch.deleteRange(from: MessageCodec.queuePrefix(stream), to: Self.streamKey(stream, snap.uptoLSN), in: snapshots)
        do {
            try await db.write(batch, options: writeOptions)
            try db.compactRange(MessageCodec.queuePrefix(stream), MessageCodec.queueEnd(stream), in: events)
        } catch { throw Self.mapped(error) }
    }

    /// A catch-up subscription woken by this store's appends.
    public func events(stream: String, after lsn: Int64) -> EventSubscription {
        EventSubscription(after: lsn, arrivals: arrivals) { [self] after, limit in try await load(stream: stream, after: after, limit: limit) }
    }

    /// Critical when closed or when the engine stopped writes after an
    /// error; a warning while appends wait behind a hole in the LSNs.
    public func health() async -> StoreHealth {
        let (closed, gap) = sequencer.withLock { ($0.closed, $0.next - 1 - $0.watermark) }
        if closed { return .critical([HealthReason(.closed, .critical, "event store at \(path) is closed")]) }
        if let bg = db.property("strata.background-error"), !bg.isEmpty {
            return .critical([HealthReason(.backgroundError, .critical, "engine stopped writes: \(bg)")])
        }
        if gap > 10_000 { return .warning([HealthReason(.backgroundError, .warning, "\(gap) appended events not yet loadable")]) }
        return .healthy
    }

    /// The stored record of event `lsn` of `stream` (tests damage it).
    package func storedRecord(stream: String, lsn: Int64) async throws -> [UInt8]? {
        try db.get(Self.streamKey(stream, lsn), in: events)
    }

    /// Overwrites the stored record of event `lsn` of `stream` (tests damage it).
    package func replaceStoredRecord(stream: String, lsn: Int64, with record: [UInt8]) async throws {
        try db.put(Self.streamKey(stream, lsn), record, in: events, options: writeOptions)
    }

    /// Flushes and closes the engine; later calls throw `.closed`.
    public func close() async throws {
        let wasClosed = sequencer.withLock { s in
            defer { s.closed = true }
            return s.closed
        }
        arrivals.notify()
        if !wasClosed { try db.close() }
    }
}
