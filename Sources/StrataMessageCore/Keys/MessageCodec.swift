import Foundation

/// Byte encodings of the LSM store (Docs/message-store.md):
///
/// Message key (column family `messages`), order-preserving:
/// `queue length (2 bytes, big-endian) | queue (UTF-8) | enqueue time
/// (8 bytes, big-endian milliseconds since 1970, offset by 2^63 so the order
/// holds for negative times) | sequence (8 bytes, big-endian)`.
///
/// Message value: a version byte (1) then `varint length + bytes` for id,
/// queue and payload; fixed 8-byte little-endian fields: timestamp (the bits
/// of a Double, seconds since 2001-01-01 — `Date`'s own representation, so
/// dates round-trip exactly), delivery
/// count, a flags word (bit 0 scheduledAt present, bit 1 expiresAt present),
/// scheduledAt and expiresAt (Double bits as for the timestamp, 0 when absent); then a varint
/// header count followed by key/value strings, sorted by key.
package enum MessageCodec {
    package static func queuePrefix(_ queue: String) -> [UInt8] {
        let q = Array(queue.utf8)
        return [UInt8(q.count >> 8), UInt8(q.count & 0xff)] + q
    }

    package static func key(queue: String, timestamp: Date, sequence: UInt64) -> [UInt8] {
        key(prefix: queuePrefix(queue), milliseconds: timestamp.millisecondsSince1970, sequence: sequence)
    }

    package static func key(prefix: [UInt8], milliseconds: Int64, sequence: UInt64) -> [UInt8] {
        var k = prefix
        k.reserveCapacity(prefix.count + 16)
        appendBigEndian(&k, UInt64(bitPattern: milliseconds) &+ (1 << 63))
        appendBigEndian(&k, sequence)
        return k
    }

    package static func appendBigEndian(_ out: inout [UInt8], _ v: UInt64) {
        for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: v >> UInt64(shift))) }
    }

    package static func readBigEndian(_ b: ArraySlice<UInt8>) -> UInt64 {
        b.reduce(0) { $0 << 8 | UInt64($1) }
    }

    /// The visibility time (ms) of a message key; nil if `key` is not one.
    package static func milliseconds(ofKey key: [UInt8]) -> Int64? {
        guard key.count >= 18 else { return nil }
        let n = Int(key[0]) << 8 | Int(key[1])
        guard key.count == 2 + n + 16 else { return nil }
        return Int64(bitPattern: readBigEndian(key[(2 + n)..<(10 + n)]) &- (1 << 63))
    }

    /// The queue a message key belongs to; nil if `key` is not one.
    package static func queue(ofKey key: [UInt8]) -> String? {
        guard key.count >= 18 else { return nil }
        let n = Int(key[0]) << 8 | Int(key[1])
        guard key.count == 2 + n + 16 else { return nil }
        return String(validating: key[2..<(2 + n)], as: UTF8.self)
    }

    /// The smallest key greater than `key`.
    package static func successor(_ key: [UInt8]) -> [UInt8] { key + [0] }

    // MARK: Delivery records (family `delivery`, keyed like `messages`)

    /// Delivery state of a message that has been received at least once:
    /// version byte 1, delivery count (8 bytes LE), lock token (16 bytes,
    /// all zero when unlocked), lock end (8 bytes LE, ms since 1970).
    package struct Delivery: Equatable {
        package var count: Int
        package var lock: UUID?
        package var lockedUntil: Int64
        package init(count: Int, lock: UUID?, lockedUntil: Int64) { self.count = count; self.lock = lock; self.lockedUntil = lockedUntil }
    }

    package static func encode(_ d: Delivery) -> [UInt8] {
        var out: [UInt8] = [1]
        out.reserveCapacity(33)
        for i in 0..<8 { out.append(UInt8(truncatingIfNeeded: UInt64(d.count) >> UInt64(8 * i))) }
        let u = (d.lock ?? UUID(uuid: (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0))).uuid
        withUnsafeBytes(of: u) { out.append(contentsOf: $0) }
        for i in 0..<8 { out.append(UInt8(truncatingIfNeeded: UInt64(bitPattern: d.lockedUntil) >> UInt64(8 * i))) }
        return out
    }

    package static func decodeDelivery(_ b: [UInt8]) throws -> Delivery {
        guard b.count == 33, b[0] == 1 else {
            throw MessageStoreError(.corruption, "delivery record of \(b.count) bytes (version \(b.first.map(String.init) ?? "none")) is not 33 bytes of version 1")
        }
        var count: UInt64 = 0, until: UInt64 = 0
        for i in 0..<8 { count |= UInt64(b[1 + i]) << UInt64(8 * i); until |= UInt64(b[25 + i]) << UInt64(8 * i) }
        guard count <= UInt64(Int32.max) else { throw MessageStoreError(.corruption, "delivery count \(count) out of range") }
        var u = UUID().uuid
        withUnsafeMutableBytes(of: &u) { $0.copyBytes(from: b[9..<25]) }
        let lock = b[9..<25].allSatisfy { $0 == 0 } ? nil : UUID(uuid: u)
        return Delivery(count: Int(count), lock: lock, lockedUntil: Int64(bitPattern: until))
    }

    // MARK: Id index values (family `ids`)

    /// What the `ids` family says of an id: stored at a message key, or
    /// removed but inside its duplicate window until a time (ms).
    package enum IdEntry: Equatable {
        case stored(key: [UInt8])
        case removed(windowEnd: Int64)
    }

    package static func encode(_ e: IdEntry) -> [UInt8] {
        switch e {
        case .stored(let key): return [1] + key
        case .removed(let end):
            var out: [UInt8] = [2]
            appendBigEndian(&out, UInt64(bitPattern: end))
            return out
        }
    }

    package static func decodeIdEntry(_ b: [UInt8]) throws -> IdEntry {
        switch b.first {
        case 1 where b.count >= 19: return .stored(key: Array(b[1...]))
        case 2 where b.count == 9: return .removed(windowEnd: Int64(bitPattern: readBigEndian(b[1...])))
        default: throw MessageStoreError(.corruption, "id index entry of \(b.count) bytes with tag \(b.first.map(String.init) ?? "none")")
        }
    }

    /// The smallest key after every key of `queue`.
    package static func queueEnd(_ queue: String) -> [UInt8] {
        queuePrefix(queue) + [UInt8](repeating: 0xff, count: 17)
    }

    package static func encode(_ m: Message) -> [UInt8] {
        // Sized up front: one allocation for a message without headers.
        let size = 1 + m.id.utf8.count + m.queue.utf8.count + m.payload.count + 5 * 8 + 4 * 10
        var w = RecordWriter(out: [1], reservingCapacity: size + (m.headers.isEmpty ? 0 : 64))
        func bits(_ d: Date?) -> UInt64 { d?.timeIntervalSinceReferenceDate.bitPattern ?? 0 }
        w.bytes(m.id.utf8); w.bytes(m.queue.utf8); w.bytes(m.payload)
        w.fixed(bits(m.timestamp)); w.fixed(UInt64(max(0, m.deliveryCount)))
        w.fixed((m.scheduledAt == nil ? 0 : 1) | (m.expiresAt == nil ? 0 : 2))
        w.fixed(bits(m.scheduledAt)); w.fixed(bits(m.expiresAt))
        w.varint(UInt64(m.headers.count))
        if !m.headers.isEmpty {
            for (k, v) in m.headers.sorted(by: { $0.key < $1.key }) { w.bytes(k.utf8); w.bytes(v.utf8) }
        }
        return w.out
    }

    package static func decode(_ b: [UInt8]) throws -> Message {
        func date(_ v: UInt64) -> Date { Date(timeIntervalSinceReferenceDate: Double(bitPattern: v)) }
        guard b.first == 1 else { throw MessageStoreError(.corruption, "message record version \(b.first.map(String.init) ?? "missing") is not 1") }
        var r = RecordReader(b, what: "message record")
        let id = try r.string(), queue = try r.string(), payload = try r.bytes()
        let ts = try r.fixed(), count = try r.fixed(), flags = try r.fixed(), sched = try r.fixed(), exp = try r.fixed()
        guard flags <= 3 else { throw r.bad() }
        let n = try r.varint()
        guard n <= UInt64(b.count) else { throw r.bad() }
        var headers: [String: String] = [:]
        for _ in 0..<n { headers[try r.string()] = try r.string() }
        guard r.i == b.count, count <= UInt64(Int.max) else { throw r.bad() }
        return Message(id: id, queue: queue, payload: payload, timestamp: date(ts), headers: headers,
                       deliveryCount: Int(count), scheduledAt: flags & 1 != 0 ? date(sched) : nil,
                       expiresAt: flags & 2 != 0 ? date(exp) : nil)
    }
}
