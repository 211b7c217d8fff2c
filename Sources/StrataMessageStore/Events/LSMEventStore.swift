import CStrataSupport
import Foundation
import Strata
import Synchronization

/// Event streams on the Strata engine. Column families: `events` (key
/// `stream length (2 BE) | stream | LSN (8 BE)` → event record), `event-keys`
/// (`1 | idempotency key` → LSN, 8 bytes BE; `0 | LSN (8 BE)` → empty, the
/// highest LSN of each append batch, older ones range-deleted) and `snapshots` (key `stream length |
/// stream | uptoLSN (8 BE)` → snapshot record); an event and its idempotency
/// key are written in one batch. LSNs are handed out under a mutex and an
/// event becomes loadable only when every smaller LSN has been written (the
/// durable watermark), so concurrent appends never open a gap a reader
/// could skip. Records are documented in Docs/message-store.md.
public final class LSMEventStore: EventStore {
    private let db: Database
    private let events: ColumnFamily
    private let keys: ColumnFamily
    private let snapshots: ColumnFamily
    private let commitMode: CommitMode

    private struct Sequencer {
        var next: Int64
        var watermark: Int64
        /// Written LSNs above the watermark, waiting for their predecessors.
        var done: Set<Int64> = []
        /// Idempotency keys of appends in flight → their LSN.
        var inFlight: [String: Int64] = [:]
    }
    private let sequencer: Mutex<Sequencer>

    /// Opens (creating if needed) an event store at `path`.
    public static func open(at path: String, options: MessageStoreOptions = MessageStoreOptions()) async throws -> LSMEventStore {
        try LSMEventStore(path: path, options: options)
    }

    private init(path: String, options: MessageStoreOptions) throws {
        let db = try Database.open(at: path, options: options.engine)
        func family(_ name: String) throws -> ColumnFamily {
            try db.family(name, creatingWith: options.columnFamilyOptions[name] ?? ColumnFamilyOptions(inheriting: options.engine))
        }
        self.db = db
        events = try family("events")
        keys = try family("event-keys")
        snapshots = try family("snapshots")
        commitMode = options.commitMode
        // The highest LSN stored: `events` is ordered by stream, not LSN, so
        // every batch leaves a `0 | LSN` marker; the largest one wins.
        var last: Int64 = 0
        let it = try db.makeIterator(in: keys, options: ReadOptions(lowerBound: [0], upperBound: [1]))
        it.seekToLast()
        if it.isValid { last = try Self.int64(Array(it.key.dropFirst()), "LSN marker") }
        try it.checkStatus()
        sequencer = Mutex(Sequencer(next: last + 1, watermark: last))
    }

    private static func marker(_ lsn: Int64) -> [UInt8] {
        var k: [UInt8] = [0]
        MessageCodec.appendBigEndian(&k, UInt64(bitPattern: lsn))
        return k
    }

    private static func idempotencyKey(_ key: String) -> [UInt8] { [1] + Array(key.utf8) }

    private static func streamKey(_ stream: String, _ lsn: Int64) -> [UInt8] {
        var k = MessageCodec.queuePrefix(stream)
        MessageCodec.appendBigEndian(&k, UInt64(bitPattern: lsn))
        return k
    }

    private static func int64(_ b: [UInt8], _ what: String) throws -> Int64 {
        guard b.count == 8 else { throw MessageStoreError(.corruption, "\(what): \(b.count) bytes, expected 8") }
        return Int64(bitPattern: MessageCodec.readBigEndian(b[...]))
    }

    static func crc(_ b: [UInt8]) -> UInt32 { b.withUnsafeBytes { strata_crc32c_extend(0, $0.baseAddress, $0.count) } }

    public func append(_ event: Event) async throws -> Int64 { try await append(contentsOf: [event]) }

    public func append(contentsOf input: [Event]) async throws -> Int64 {
        guard !input.isEmpty else { throw MessageStoreError(.invalidArgument, "append of no events") }
        for e in input {
            if e.stream.isEmpty || e.stream.utf8.count > 60_000 { throw MessageStoreError(.invalidArgument, "stream name must be 1 to 60000 bytes") }
            if e.idempotencyKey.isEmpty { throw MessageStoreError(.invalidArgument, "idempotency key must not be empty") }
        }
        // Known keys (stored, or in flight in another append) keep their LSN.
        var known: [String: Int64] = [:]
        for e in input {
            if let raw = try db.get(Self.idempotencyKey(e.idempotencyKey), in: keys) { known[e.idempotencyKey] = try Self.int64(raw, "idempotency key") }
        }
        var batch = WriteBatch()
        var assigned: [Int64] = []
        var lastOfBatch: Int64 = 0
        let fresh: [Event] = try sequencer.withLock { s in
            var fresh: [Event] = []
            var seen = Set<String>()
            for var e in input {
                if let lsn = known[e.idempotencyKey] ?? s.inFlight[e.idempotencyKey] {
                    lastOfBatch = lsn
                    continue
                }
                guard seen.insert(e.idempotencyKey).inserted else {
                    throw MessageStoreError(.invalidArgument, "idempotency key \(e.idempotencyKey) twice in one batch")
                }
                e.lsn = s.next
                s.next += 1
                e.checksum = Self.crc(e.payload)
                s.inFlight[e.idempotencyKey] = e.lsn
                assigned.append(e.lsn)
                lastOfBatch = e.lsn
                fresh.append(e)
            }
            return fresh
        }
        if fresh.isEmpty { return lastOfBatch }
        for e in fresh {
            batch.put(Self.streamKey(e.stream, e.lsn), EventCodec.encode(e), in: events)
            var lsn: [UInt8] = []
            MessageCodec.appendBigEndian(&lsn, UInt64(bitPattern: e.lsn))
            batch.put(Self.idempotencyKey(e.idempotencyKey), lsn, in: keys)
        }
        // Markers below this batch's first LSN are superseded (a batch that
        // lands later with smaller LSNs never deletes a larger marker).
        batch.deleteRange(from: [0], to: Self.marker(assigned[0]), in: keys)
        batch.put(Self.marker(assigned.last!), [], in: keys)
        var failure: (any Error)?
        do { try await db.write(batch, options: WriteOptions(commitMode: commitMode)) } catch { failure = error }
        sequencer.withLock { s in
            for e in fresh { s.inFlight[e.idempotencyKey] = nil }
            // A failed write leaves a hole; the engine is read-only after it,
            // so the watermark stops below the hole until reopen.
            guard failure == nil else { return }
            s.done.formUnion(assigned)
            while s.done.remove(s.watermark + 1) != nil { s.watermark += 1 }
        }
        if let failure { throw failure }
        return lastOfBatch
    }

    public func load(stream: String, after lsn: Int64, limit: Int) async throws -> [Event] {
        guard limit > 0 else { return [] }
        let watermark = sequencer.withLock { $0.watermark }
        guard lsn < watermark else { return [] }
        let it = try db.makeIterator(in: events, options: ReadOptions(
            lowerBound: Self.streamKey(stream, max(0, lsn) + 1), upperBound: Self.streamKey(stream, watermark + 1)))
        it.seekToFirst()
        var out: [Event] = []
        while it.isValid && out.count < limit {
            let e = try EventCodec.decode(it.value)
            guard e.checksum == Self.crc(e.payload) else {
                throw MessageStoreError(.corruption, "event \(e.lsn) of stream \(stream): payload checksum mismatch")
            }
            out.append(e)
            it.next()
        }
        try it.checkStatus()
        return out
    }

    public func latestSnapshot(stream: String) async throws -> EventSnapshot? {
        let it = try db.makeIterator(in: snapshots, options: ReadOptions(
            lowerBound: MessageCodec.queuePrefix(stream), upperBound: MessageCodec.queueEnd(stream)))
        it.seekToLast()
        guard it.isValid else {
            try it.checkStatus()
            return nil
        }
        return try EventCodec.decodeSnapshot(it.value)
    }

    public func writeSnapshot(_ snapshot: EventSnapshot) async throws {
        guard !snapshot.stream.isEmpty, snapshot.uptoLSN >= 0 else {
            throw MessageStoreError(.invalidArgument, "snapshot needs a stream and a non-negative uptoLSN")
        }
        var batch = WriteBatch()
        batch.put(Self.streamKey(snapshot.stream, snapshot.uptoLSN), EventCodec.encode(snapshot), in: snapshots)
        try await db.write(batch, options: WriteOptions(commitMode: commitMode))
    }

    public func compact(stream: String) async throws {
        guard let snap = try await latestSnapshot(stream: stream) else { return }
        var batch = WriteBatch()
        batch.deleteRange(from: MessageCodec.queuePrefix(stream), to: Self.streamKey(stream, snap.uptoLSN + 1), in: events)
        batch.deleteRange(from: MessageCodec.queuePrefix(stream), to: Self.streamKey(stream, snap.uptoLSN), in: snapshots)
        try await db.write(batch, options: WriteOptions(commitMode: commitMode))
        try db.compactRange(MessageCodec.queuePrefix(stream), MessageCodec.queueEnd(stream), in: events)
    }

    /// Flushes and closes the engine.
    public func close() async throws { try db.close() }
}
