import Foundation
@testable import StrataMessageStore
import Testing

/// The LSM store's record encodings: exact round trips, and every
/// truncation or damaged tag rejected with `.corruption` (never a crash).
@Suite struct CodecTests {
    let message = Message(id: "id-é", queue: "orders", payload: [0, 1, 2, 255], timestamp: Date(timeIntervalSince1970: 1_700_000_000.123),
                          headers: ["b": "2", "a": "1"], deliveryCount: 3,
                          scheduledAt: Date(timeIntervalSince1970: 1_700_000_100.5), expiresAt: Date(timeIntervalSince1970: -5.25))

    @Test func messageRecordRoundTripsAndRejectsEveryTruncation() throws {
        let bytes = MessageCodec.encode(message)
        #expect(try MessageCodec.decode(bytes) == message)
        for n in 0..<bytes.count {
            #expect(throws: MessageStoreError.self) { try MessageCodec.decode(Array(bytes[..<n])) }
        }
        #expect(throws: MessageStoreError.self) { try MessageCodec.decode(bytes + [0]) }
        var flipped = bytes
        flipped[0] = 2
        #expect(throws: MessageStoreError.self) { try MessageCodec.decode(flipped) }
        // Any single byte flip decodes to something or throws; never traps.
        for i in 0..<bytes.count {
            var b = bytes
            b[i] ^= 0x80
            _ = try? MessageCodec.decode(b)
        }
    }

    /// The message record byte by byte (Docs/message-store.md), so a faster
    /// encoder cannot change what stores already hold.
    @Test func messageRecordBytesAreTheDocumentedLayout() throws {
        func le(_ v: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
        let m = Message(id: "id", queue: "q", payload: [7, 8], timestamp: Date(timeIntervalSinceReferenceDate: 1.5),
                        headers: ["b": "2", "a": "1"], deliveryCount: 3, expiresAt: Date(timeIntervalSinceReferenceDate: 3))
        let expected: [UInt8] = [1, 2] + Array("id".utf8) + [1] + Array("q".utf8) + [2, 7, 8]
            + le((1.5 as Double).bitPattern) + le(3) + le(2) + le(0) + le((3.0 as Double).bitPattern)
            + [2, 1, UInt8(ascii: "a"), 1, UInt8(ascii: "1"), 1, UInt8(ascii: "b"), 1, UInt8(ascii: "2")]
        #expect(MessageCodec.encode(m) == expected)
        #expect(try MessageCodec.decode(expected) == m)
        let plain = Message(id: "x", queue: "q", payload: [], timestamp: Date(timeIntervalSinceReferenceDate: 0))
        #expect(MessageCodec.encode(plain) == [1, 1, UInt8(ascii: "x"), 1, UInt8(ascii: "q"), 0] + le(0) + le(0) + le(0) + le(0) + le(0) + [0])
    }

    /// FuzzMessageRecords' first finding (Fuzz/corpus/FuzzMessageRecords/crash-huge-date):
    /// a record with a date beyond Int64 milliseconds trapped when turned into a key.
    @Test func hugeDatesInARecordDoNotTrap() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Fuzz/corpus/FuzzMessageRecords/crash-huge-date").path
        let input = try #require(FileManager.default.contents(atPath: path))
        if let m = try? MessageCodec.decode(Array(input.dropFirst())) {
            _ = MessageCodec.key(queue: m.queue, timestamp: m.timestamp, sequence: 1)
        }
        for t in [1e300, -1e300, Double.nan, Double.infinity] {
            _ = MessageCodec.key(queue: "q", timestamp: Date(timeIntervalSince1970: t), sequence: 1)
        }
    }

    @Test func arbitraryDatesRoundTripExactly() throws {
        for _ in 0..<1000 {
            let d = Date(timeIntervalSinceReferenceDate: Double.random(in: -1e9...1e10))
            let m = Message(id: "x", queue: "q", payload: [], timestamp: d, scheduledAt: d, expiresAt: Date())
            #expect(try MessageCodec.decode(MessageCodec.encode(m)) == m)
        }
    }

    @Test func deliveryAndIdEntriesRoundTrip() throws {
        let d = MessageCodec.Delivery(count: 7, lock: UUID(), lockedUntil: 1_800_000_000_123)
        #expect(try MessageCodec.decodeDelivery(MessageCodec.encode(d)) == d)
        let unlocked = MessageCodec.Delivery(count: 1, lock: nil, lockedUntil: 0)
        #expect(try MessageCodec.decodeDelivery(MessageCodec.encode(unlocked)) == unlocked)
        let raw = MessageCodec.encode(d)
        for n in 0..<raw.count { #expect(throws: MessageStoreError.self) { try MessageCodec.decodeDelivery(Array(raw[..<n])) } }
        let key = MessageCodec.key(queue: "q", timestamp: Date(timeIntervalSince1970: 5), sequence: 9)
        for e in [MessageCodec.IdEntry.stored(key: key), .removed(windowEnd: -3)] {
            #expect(try MessageCodec.decodeIdEntry(MessageCodec.encode(e)) == e)
            let b = MessageCodec.encode(e)
            #expect(throws: MessageStoreError.self) { try MessageCodec.decodeIdEntry(Array(b[..<(b.count / 2)])) }
        }
        #expect(throws: MessageStoreError.self) { try MessageCodec.decodeIdEntry([9, 1, 2]) }
    }

    @Test func keysOrderByQueueThenTimeThenSequence() {
        let t = Date(timeIntervalSince1970: 1000)
        let keys = [
            MessageCodec.key(queue: "a", timestamp: Date(timeIntervalSince1970: -1), sequence: 5),
            MessageCodec.key(queue: "a", timestamp: t, sequence: 1),
            MessageCodec.key(queue: "a", timestamp: t, sequence: 2),
            MessageCodec.key(queue: "a", timestamp: t.addingTimeInterval(0.001), sequence: 0),
            MessageCodec.key(queue: "b", timestamp: Date(timeIntervalSince1970: -100), sequence: 0),
            MessageCodec.key(queue: "aa", timestamp: Date(timeIntervalSince1970: -100), sequence: 0),
        ]
        // "b" (length 1) sorts before "aa" (length 2): names are length-prefixed.
        for (x, y) in zip(keys, keys.dropFirst()) { #expect(compareKeys(x, y) < 0) }
        #expect(MessageCodec.queue(ofKey: keys[1]) == "a")
        #expect(MessageCodec.milliseconds(ofKey: keys[0]) == -1000)
        #expect(compareKeys(MessageCodec.queuePrefix("a"), keys[0]) < 0)
        #expect(compareKeys(keys[3], MessageCodec.queueEnd("a")) < 0)
    }

    @Test(arguments: [EventStoreOptions.Compression.none, .lz4(threshold: 1)])
    func eventAndSnapshotRecordsRoundTripAndRejectTruncation(compression: EventStoreOptions.Compression) throws {
        var e = Event(stream: "doc", payload: [UInt8](repeating: 3, count: 200) + [1, 2], idempotencyKey: "k", metadata: ["actor": "ann", "v": "2"])
        e.lsn = 42
        let (b, sum, _) = EventCodec.encode(e, compression: compression)
        e.checksum = sum
        #expect(sum == EventCodec.crc(Array(b.dropLast(4))))
        #expect(b[0] == 2 && b[1] == (compression == .none ? 0 : 1))
        #expect(try EventCodec.decode(b, stream: "doc", lsn: 42) == e)
        for n in 0..<b.count { #expect(throws: MessageStoreError.self) { try EventCodec.decode(Array(b[..<n]), stream: "doc", lsn: 42) } }
        for at in b.indices {
            var bad = b
            bad[at] ^= 0x10
            let error = #expect(throws: MessageStoreError.self) { try EventCodec.decode(bad, stream: "doc", lsn: 42) }
            #expect(error?.kind == .corruption && error?.message.hasPrefix("event 42 of stream doc:") == true)
        }
        // A record found at another place than the one it names is corruption.
        #expect(throws: MessageStoreError.self) { try EventCodec.decode(b, stream: "doc", lsn: 43) }
        #expect(throws: MessageStoreError.self) { try EventCodec.decode(b, stream: "other", lsn: 42) }
        let snap = EventSnapshot(stream: "doc", uptoLSN: 41, state: [UInt8](repeating: 9, count: 100), version: 3, createdAt: Date(timeIntervalSince1970: 12.5))
        let sb = EventCodec.encode(snap, compression: compression).record
        #expect(try EventCodec.decodeSnapshot(sb, stream: "doc", uptoLSN: 41) == snap)
        for n in 0..<sb.count { #expect(throws: MessageStoreError.self) { try EventCodec.decodeSnapshot(Array(sb[..<n]), stream: "doc", uptoLSN: 41) } }
        for at in sb.indices {
            var bad = sb
            bad[at] ^= 1
            let error = #expect(throws: MessageStoreError.self) { try EventCodec.decodeSnapshot(bad, stream: "doc", uptoLSN: 41) }
            #expect(error?.message.hasPrefix("snapshot up to LSN 41 of stream doc") == true)
        }
    }

    @Test func firstVersionRecordsStayReadable() throws {
        var e = Event(stream: "doc", payload: [1, 2, 3], idempotencyKey: "k", metadata: ["actor": "ann"])
        e.lsn = 7
        let v1 = EventCodec.encodeV1(e)
        let back = try EventCodec.decode(v1, stream: "doc", lsn: 7)
        #expect(back.payload == [1, 2, 3] && back.metadata == ["actor": "ann"] && back.checksum == EventCodec.crc([1, 2, 3]))
        var bad = v1
        bad[bad.count - 12] ^= 1  // inside the payload checksum
        #expect(throws: MessageStoreError.self) { try EventCodec.decode(bad, stream: "doc", lsn: 7) }
    }
}
