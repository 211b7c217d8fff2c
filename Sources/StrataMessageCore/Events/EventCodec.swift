import CStrataSupport
import Foundation

/// Event and snapshot records, shared by every backend (the LSM store keeps
/// them as values, SQLite and PostgreSQL in a `record` column), so a flipped
/// byte is caught the same way everywhere. Docs/message-store.md ("Event
/// records") has the layout byte by byte.
///
/// Event record, version 2: `2 | algorithm (1 byte: 0 none, 1 LZ4) |
/// stream | idempotency key | LSN (8 LE) | timestamp (8 LE, Double bits of
/// seconds since 2001-01-01) | metadata count (varint) and key/value pairs
/// sorted by key | raw payload length (varint) | stored payload | checksum
/// (4 LE)`; strings and the stored payload are `varint length + bytes`. The
/// checksum is CRC32C of every byte before it — every field as stored — so
/// any flipped byte fails it (a flip inside compressed bytes can decompress
/// to the same payload, which a checksum of the uncompressed fields would
/// miss); it is what `Event.checksum` holds.
///
/// Snapshot record, version 2: `2 | algorithm | stream | uptoLSN (8 LE) |
/// createdAt (8 LE) | version (8 LE) | raw state length (varint) | stored
/// state | checksum (4 LE)`, the checksum again CRC32C of the bytes before it.
///
/// Version 1 records (payload-only checksum, no compression) stay readable.
package enum EventCodec {
    /// CRC32C of `b`.
    package static func crc(_ b: [UInt8]) -> UInt32 { b.withUnsafeBytes { strata_crc32c_extend(0, $0.baseAddress, $0.count) } }

    /// The record of `e` (its `lsn` assigned), compressed under `compression`;
    /// `e.checksum` is ignored and recomputed.
    /// `storedPayload` is the payload's size after compression.
    package static func encode(_ e: Event, compression: EventStoreOptions.Compression) -> (record: [UInt8], checksum: UInt32, storedPayload: Int) {
        let (alg, stored) = EventCompressionAlgorithm.compress(e.payload, compression)
        var w = RecordWriter(out: [2, alg.rawValue])
        w.bytes(Array(e.stream.utf8))
        w.bytes(Array(e.idempotencyKey.utf8))
        w.fixed(UInt64(bitPattern: e.lsn))
        w.fixed(e.timestamp.timeIntervalSinceReferenceDate.bitPattern)
        w.varint(UInt64(e.metadata.count))
        for (k, v) in e.metadata.sorted(by: { $0.key < $1.key }) { w.bytes(Array(k.utf8)); w.bytes(Array(v.utf8)) }
        w.varint(UInt64(e.payload.count))
        w.bytes(stored)
        let sum = crc(w.out)
        w.fixed(UInt64(sum), 4)
        return (w.out, sum, stored.count)
    }

    /// Decodes and verifies the record stored for event `lsn` of `stream`
    /// (where the backend found it). Any damage — short or malformed bytes,
    /// a failed decompression, a checksum mismatch, or a record that names
    /// another stream or LSN than its place — is `.corruption` naming the
    /// stream and LSN.
    package static func decode(_ b: [UInt8], stream: String, lsn: Int64) throws -> Event {
        func corrupt(_ why: String) -> MessageStoreError {
            MessageStoreError(.corruption, "event \(lsn) of stream \(stream): \(why)")
        }
        let e: Event
        do {
            switch b.first {
            case 1: e = try decodeV1(b)
            case 2: e = try decodeV2(b)
            default: throw corrupt("record version \(b.first.map(String.init) ?? "missing") is unknown")
            }
        } catch let error as MessageStoreError where error.kind == .corruption && !error.message.hasPrefix("event \(lsn) of stream") {
            throw corrupt(error.message)
        }
        guard e.stream == stream, e.lsn == lsn else { throw corrupt("record names event \(e.lsn) of stream \(e.stream)") }
        return e
    }

    /// Checks the trailing CRC32C of a version 2 record.
    private static func verify(_ b: [UInt8]) throws {
        guard b.count >= 6 else { throw MessageStoreError(.corruption, "record of \(b.count) bytes is too short") }
        let n = b.count - 4
        let stored = UInt32(b[n]) | UInt32(b[n + 1]) << 8 | UInt32(b[n + 2]) << 16 | UInt32(b[n + 3]) << 24
        let actual = b.withUnsafeBytes { strata_crc32c_extend(0, $0.baseAddress, n) }
        guard stored == actual else { throw MessageStoreError(.corruption, "checksum mismatch (stored \(stored), computed \(actual))") }
    }

    private static func decodeV2(_ b: [UInt8]) throws -> Event {
        try verify(b)
        guard b.count >= 2, let alg = EventCompressionAlgorithm(rawValue: b[1]) else {
            throw MessageStoreError(.corruption, "unknown compression algorithm \(b.count >= 2 ? String(b[1]) : "missing")")
        }
        var r = RecordReader(b, what: "event record")
        r.i = 2
        let stream = try r.string(), key = try r.string()
        let lsn = Int64(bitPattern: try r.fixed()), ts = try r.fixed()
        let meta = try metadata(&r, b.count)
        let rawLength = try r.varint(), stored = try r.bytes(), sum = UInt32(try r.fixed(4))
        guard r.i == b.count, rawLength <= 1 << 32 else { throw r.bad() }
        guard let payload = alg.decompress(stored, rawLength: Int(rawLength)) else {
            throw MessageStoreError(.corruption, "payload does not decompress (\(alg))")
        }
        var e = Event(stream: stream, payload: payload, idempotencyKey: key,
                      timestamp: Date(timeIntervalSinceReferenceDate: Double(bitPattern: ts)), metadata: meta)
        e.lsn = lsn
        e.checksum = sum
        return e
    }

    private static func metadata(_ r: inout RecordReader, _ count: Int) throws -> [String: String] {
        let n = try r.varint()
        guard n <= UInt64(count) else { throw r.bad() }
        var meta: [String: String] = [:]
        for _ in 0..<n { meta[try r.string()] = try r.string() }
        return meta
    }

    /// Version 1 (the first release): the checksum is CRC32C of the payload.
    private static func decodeV1(_ b: [UInt8]) throws -> Event {
        var r = RecordReader(b, what: "event record")
        let stream = try r.string(), key = try r.string(), payload = try r.bytes()
        let lsn = Int64(bitPattern: try r.fixed()), ts = try r.fixed(), sum = UInt32(try r.fixed(4))
        let meta = try metadata(&r, b.count)
        guard r.i == b.count else { throw r.bad() }
        guard crc(payload) == sum else { throw MessageStoreError(.corruption, "payload checksum mismatch") }
        var e = Event(stream: stream, payload: payload, idempotencyKey: key,
                      timestamp: Date(timeIntervalSinceReferenceDate: Double(bitPattern: ts)), metadata: meta)
        e.lsn = lsn
        e.checksum = sum
        return e
    }

    /// A version 1 record (kept to test that old stores stay readable).
    package static func encodeV1(_ e: Event) -> [UInt8] {
        var w = RecordWriter(out: [1])
        w.bytes(Array(e.stream.utf8))
        w.bytes(Array(e.idempotencyKey.utf8))
        w.bytes(e.payload)
        w.fixed(UInt64(bitPattern: e.lsn))
        w.fixed(e.timestamp.timeIntervalSinceReferenceDate.bitPattern)
        w.fixed(UInt64(crc(e.payload)), 4)
        w.varint(UInt64(e.metadata.count))
        for (k, v) in e.metadata.sorted(by: { $0.key < $1.key }) { w.bytes(Array(k.utf8)); w.bytes(Array(v.utf8)) }
        return w.out
    }

    /// The record of snapshot `s`, its state compressed under `compression`
    /// (`storedState`: the state's size after compression).
    package static func encode(_ s: EventSnapshot, compression: EventStoreOptions.Compression) -> (record: [UInt8], storedState: Int) {
        let (alg, stored) = EventCompressionAlgorithm.compress(s.state, compression)
        var w = RecordWriter(out: [2, alg.rawValue])
        w.bytes(Array(s.stream.utf8))
        w.fixed(UInt64(bitPattern: s.uptoLSN))
        w.fixed(s.createdAt.timeIntervalSinceReferenceDate.bitPattern)
        w.fixed(UInt64(bitPattern: Int64(s.version)))
        w.varint(UInt64(s.state.count))
        w.bytes(stored)
        w.fixed(UInt64(crc(w.out)), 4)
        return (w.out, stored.count)
    }

    /// Decodes and verifies the snapshot record stored for `stream` up to
    /// `uptoLSN`; damage is `.corruption` naming both.
    package static func decodeSnapshot(_ b: [UInt8], stream: String, uptoLSN: Int64) throws -> EventSnapshot {
        func corrupt(_ why: String) -> MessageStoreError {
            MessageStoreError(.corruption, "snapshot up to LSN \(uptoLSN) of stream \(stream): \(why)")
        }
        let s: EventSnapshot
        do {
            switch b.first {
            case 1: s = try decodeSnapshotV1(b)
            case 2:
                try verify(b)
                guard b.count >= 2, let alg = EventCompressionAlgorithm(rawValue: b[1]) else { throw corrupt("unknown compression algorithm") }
                var r = RecordReader(b, what: "snapshot record")
                r.i = 2
                let name = try r.string()
                let upto = Int64(bitPattern: try r.fixed()), created = try r.fixed(), version = Int64(bitPattern: try r.fixed())
                let rawLength = try r.varint(), stored = try r.bytes()
                _ = try r.fixed(4)
                guard r.i == b.count, rawLength <= 1 << 32, let v = Int(exactly: version) else { throw r.bad() }
                guard let state = alg.decompress(stored, rawLength: Int(rawLength)) else { throw corrupt("state does not decompress (\(alg))") }
                s = EventSnapshot(stream: name, uptoLSN: upto, state: state, version: v,
                                  createdAt: Date(timeIntervalSinceReferenceDate: Double(bitPattern: created)))
            default: throw corrupt("record version \(b.first.map(String.init) ?? "missing") is unknown")
            }
        } catch let error as MessageStoreError where error.kind == .corruption && !error.message.hasPrefix("snapshot up to LSN") {
            throw corrupt(error.message)
        }
        guard s.stream == stream, s.uptoLSN == uptoLSN else { throw corrupt("record names snapshot up to \(s.uptoLSN) of stream \(s.stream)") }
        return s
    }

    private static func decodeSnapshotV1(_ b: [UInt8]) throws -> EventSnapshot {
        var r = RecordReader(b, what: "snapshot record")
        let stream = try r.string(), state = try r.bytes()
        let upto = Int64(bitPattern: try r.fixed()), created = try r.fixed(), version = Int64(bitPattern: try r.fixed())
        guard r.i == b.count, let v = Int(exactly: version) else { throw r.bad() }
        return EventSnapshot(stream: stream, uptoLSN: upto, state: state, version: v,
                             createdAt: Date(timeIntervalSinceReferenceDate: Double(bitPattern: created)))
    }
}
