import Foundation

/// Records of the event store. Event: version byte `1`; `varint length +
/// bytes` for stream, idempotency key and payload; LSN, timestamp (Double
/// bits of seconds since 2001-01-01) as 8 bytes LE each; checksum 4 bytes LE; varint metadata count
/// and key/value strings sorted by key. Snapshot: version byte `1`; stream,
/// state as `varint length + bytes`; uptoLSN, createdAt (Double bits of
/// seconds since 2001-01-01, `Date`'s representation),
/// version as 8 bytes LE each. Every length is checked on decode.
package enum EventCodec {
    package static func encode(_ e: Event) -> [UInt8] {
        var w = RecordWriter(out: [1])
        w.bytes(Array(e.stream.utf8))
        w.bytes(Array(e.idempotencyKey.utf8))
        w.bytes(e.payload)
        w.fixed(UInt64(bitPattern: e.lsn))
        w.fixed(e.timestamp.timeIntervalSinceReferenceDate.bitPattern)
        w.fixed(UInt64(e.checksum), 4)
        w.varint(UInt64(e.metadata.count))
        for (k, v) in e.metadata.sorted(by: { $0.key < $1.key }) { w.bytes(Array(k.utf8)); w.bytes(Array(v.utf8)) }
        return w.out
    }

    package static func decode(_ b: [UInt8]) throws -> Event {
        guard b.first == 1 else { throw MessageStoreError(.corruption, "event record version \(b.first.map(String.init) ?? "missing") is not 1") }
        var r = RecordReader(b, what: "event record")
        let stream = try r.string(), key = try r.string(), payload = try r.bytes()
        let lsn = Int64(bitPattern: try r.fixed()), ts = try r.fixed(), crc = UInt32(try r.fixed(4))
        let n = try r.varint()
        guard n <= UInt64(b.count) else { throw r.bad() }
        var meta: [String: String] = [:]
        for _ in 0..<n { meta[try r.string()] = try r.string() }
        guard r.i == b.count else { throw r.bad() }
        var e = Event(stream: stream, payload: payload, idempotencyKey: key,
                      timestamp: Date(timeIntervalSinceReferenceDate: Double(bitPattern: ts)), metadata: meta)
        e.lsn = lsn
        e.checksum = crc
        return e
    }

    package static func encode(_ s: EventSnapshot) -> [UInt8] {
        var w = RecordWriter(out: [1])
        w.bytes(Array(s.stream.utf8))
        w.bytes(s.state)
        w.fixed(UInt64(bitPattern: s.uptoLSN))
        w.fixed(s.createdAt.timeIntervalSinceReferenceDate.bitPattern)
        w.fixed(UInt64(bitPattern: Int64(s.version)))
        return w.out
    }

    package static func decodeSnapshot(_ b: [UInt8]) throws -> EventSnapshot {
        guard b.first == 1 else { throw MessageStoreError(.corruption, "snapshot record version \(b.first.map(String.init) ?? "missing") is not 1") }
        var r = RecordReader(b, what: "snapshot record")
        let stream = try r.string(), state = try r.bytes()
        let upto = Int64(bitPattern: try r.fixed()), created = try r.fixed(), version = Int64(bitPattern: try r.fixed())
        guard r.i == b.count, let v = Int(exactly: version) else { throw r.bad() }
        return EventSnapshot(stream: stream, uptoLSN: upto, state: state, version: v,
                             createdAt: Date(timeIntervalSinceReferenceDate: Double(bitPattern: created)))
    }
}
