import Foundation
import FuzzSupport
@testable import StrataMessageCore
@testable import StrataMessageStore

// Fuzzes the message store's record decoders on raw bytes: the message
// record, the delivery record and the id-index entry of the LSM store, and
// the event-store event and snapshot records. Each may reject input only
// with `MessageStoreError.corruption`; an accepted record must re-encode to
// bytes that decode to the same value (decoding is a function of the
// canonical encoding), and keys decoded from a message key must round-trip.

func rejectOnlyAsCorruption(_ error: any Error, _ what: String) {
    guard let e = error as? MessageStoreError, e.kind == .corruption else {
        fuzzFailure("\(what): rejected with \(error), expected MessageStoreError.corruption")
    }
}

func check(_ bytes: [UInt8]) {
    // The first byte picks the decoder, the rest is its input.
    guard let selector = bytes.first else { return }
    let input = Array(bytes.dropFirst())
    switch selector % 5 {
    case 0:
        do {
            let m = try MessageCodec.decode(input)
            let again = try MessageCodec.decode(MessageCodec.encode(m))
            // NaN dates compare unequal; compare the canonical bytes instead.
            guard MessageCodec.encode(again) == MessageCodec.encode(m) else { fuzzFailure("message record re-encodes differently") }
            let key = MessageCodec.key(queue: m.queue, timestamp: m.timestamp.timeIntervalSince1970.isFinite ? m.timestamp : Date(timeIntervalSince1970: 0), sequence: 7)
            if m.queue.utf8.count <= 0xffff, MessageCodec.queue(ofKey: key) != m.queue { fuzzFailure("queue does not round-trip through a key") }
        } catch { rejectOnlyAsCorruption(error, "MessageCodec.decode") }
    case 1:
        do {
            let d = try MessageCodec.decodeDelivery(input)
            guard try MessageCodec.decodeDelivery(MessageCodec.encode(d)) == d else { fuzzFailure("delivery record round trip") }
        } catch { rejectOnlyAsCorruption(error, "decodeDelivery") }
    case 2:
        do {
            let e = try MessageCodec.decodeIdEntry(input)
            guard try MessageCodec.decodeIdEntry(MessageCodec.encode(e)) == e else { fuzzFailure("id entry round trip") }
        } catch { rejectOnlyAsCorruption(error, "decodeIdEntry") }
    case 3:
        do {
            // Records are decoded where the store found them; a record naming
            // another stream or LSN is damage, so the fuzzer reads it as doc-1 @ 42.
            let e = try EventCodec.decode(input, stream: "doc-1", lsn: 42)
            let again = EventCodec.encode(e, compression: .none).record
            guard EventCodec.encode(try EventCodec.decode(again, stream: "doc-1", lsn: 42), compression: .none).record == again else { fuzzFailure("event record round trip") }
        } catch { rejectOnlyAsCorruption(error, "EventCodec.decode") }
    default:
        do {
            let s = try EventCodec.decodeSnapshot(input, stream: "doc-1", uptoLSN: 41)
            let again = EventCodec.encode(s, compression: .none).record
            guard EventCodec.encode(try EventCodec.decodeSnapshot(again, stream: "doc-1", uptoLSN: 41), compression: .none).record == again else { fuzzFailure("snapshot record round trip") }
        } catch { rejectOnlyAsCorruption(error, "EventCodec.decodeSnapshot") }
    }
}

runFuzzer(seeds: {
    let m = Message(id: "order-1", queue: "orders", payload: Array("{\"n\":1}".utf8), timestamp: Date(timeIntervalSince1970: 1_800_000_000),
                    headers: ["region": "eu", "poison": "false"], deliveryCount: 2,
                    scheduledAt: Date(timeIntervalSince1970: 1_800_000_060), expiresAt: nil)
    var e = Event(stream: "doc-1", payload: [1, 2, 3], idempotencyKey: "k1", timestamp: Date(timeIntervalSince1970: 5), metadata: ["actor": "ann"])
    e.lsn = 42
    e.checksum = 0x1234_5678
    return [
        [0] + MessageCodec.encode(m),
        [0] + MessageCodec.encode(Message(id: "x", queue: "q", payload: [])),
        [1] + MessageCodec.encode(MessageCodec.Delivery(count: 3, lock: UUID(uuid: (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16)), lockedUntil: 99)),
        [2] + MessageCodec.encode(.stored(key: MessageCodec.key(queue: "orders", timestamp: Date(timeIntervalSince1970: 1), sequence: 3))),
        [2] + MessageCodec.encode(.removed(windowEnd: 123_456)),
        [3] + EventCodec.encode(e, compression: .none).record,
        [3] + EventCodec.encode(e, compression: .lz4(threshold: 0)).record,
        [4] + EventCodec.encode(EventSnapshot(stream: "doc-1", uptoLSN: 41, state: [9], version: 2, createdAt: Date(timeIntervalSince1970: 6)), compression: .none).record,
    ]
}) { check($0) }
