import FuzzSupport
@testable import Strata

// Fuzzes the write-batch decoder (`WriteBatch(decoding:)`, `WriteBatchReader`)
// on raw bytes, as log replay meets them. A batch the decoder accepts must
// re-encode canonically to a batch that decodes to the same records, and
// must apply to a memtable the way recovery applies it (no trap, every
// record visible).

/// One decoded batch record, copied out of the batch bytes.
struct Record: Equatable {
    var kind: ValueKind
    var family: UInt32
    var key: [UInt8]
    var value: [UInt8]
}

func records(of bytes: [UInt8]) throws -> [Record] {
    try bytes.withUnsafeBytes { p in
        var reader = WriteBatchReader(bytes: p)
        var out: [Record] = []
        while let r = try reader.next() {
            out.append(Record(kind: r.kind, family: r.columnFamily, key: r.key.array, value: r.value.array))
        }
        return out
    }
}

/// The encoding the engine would write for `records`.
func canonical(_ records: [Record], sequence: UInt64) -> [UInt8] {
    var batch = WriteBatch()
    for r in records {
        switch r.kind {
        case .value: batch.appendRecord(tag: 1, cf: r.family, r.key, r.value)
        case .rangeDeletion: batch.appendRecord(tag: 2, cf: r.family, r.key, r.value)
        case .deletion:
            batch.rep.append(0)
            batch.rep.appendVarint32(r.family)
            batch.rep.appendLengthPrefixed(r.key)
            batch.recordCount += 1
        }
    }
    return batch.encoded(sequence: sequence)
}

func check(_ bytes: [UInt8]) {
    let batch: WriteBatch
    do {
        batch = try WriteBatch(decoding: bytes)
    } catch {
        expectRejection(error, "WriteBatch(decoding:)")
        return
    }
    do {
        let decoded = try records(of: bytes)
        guard decoded.count == batch.count else { fuzzFailure("accepted batch: count \(batch.count), \(decoded.count) records") }
        let again = canonical(decoded, sequence: batch.sequence)
        let reread = try WriteBatch(decoding: again)
        guard try records(of: again) == decoded, reread.count == batch.count, reread.sequence == batch.sequence else {
            fuzzFailure("re-encoded batch decodes differently")
        }
        guard canonical(decoded, sequence: batch.sequence) == again else { fuzzFailure("encoding is not deterministic") }

        // Apply as recovery does: record i gets sequence + i.
        let memtable = Memtable(comparator: .bytewise)
        var sequence = batch.sequence
        for r in decoded {
            r.key.withUnsafeBytes { k in r.value.withUnsafeBytes { v in
                memtable.add(sequence: sequence, kind: r.kind, key: k, value: v)
            } }
            sequence += 1
        }
        var points = 0
        let it = memtable.makeIterator()
        it.seekToFirst()
        while it.isValid { points += 1; it.next() }
        let ranges = decoded.filter { $0.kind == .rangeDeletion }.count
        guard points == decoded.count - ranges, memtable.rangeTombstoneCount == ranges else {
            fuzzFailure("memtable holds \(points) points and \(memtable.rangeTombstoneCount) ranges after applying the batch")
        }
    } catch {
        fuzzFailure("an accepted batch failed to decode again: \(error)")
    }
}

runFuzzer(seeds: {
    var seeds: [[UInt8]] = []
    var b = WriteBatch()
    seeds.append(b.encoded(sequence: 1))
    b.put(Array("apple".utf8), Array("red".utf8))
    seeds.append(b.encoded(sequence: 7))
    b.delete(Array("banana".utf8))
    b.deleteRange(from: Array("c".utf8), to: Array("d".utf8))
    b.put([], Array(repeating: 0xab, count: 300))
    seeds.append(b.encoded(sequence: 1 << 40))
    var many = WriteBatch()
    for i in 0..<50 { many.put(Array("k\(i)".utf8), Array("v\(i)".utf8)) }
    seeds.append(many.encoded(sequence: 1000))
    return seeds
}) { check($0) }
