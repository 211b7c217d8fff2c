import FuzzSupport
@testable import Strata

// Fuzzes LogReader in every WALRecoveryMode.
//
// Input byte 0 picks the shape: even = the rest is the log file as is;
// odd = the rest describes records (lengths up to 40 KiB, so fragments cross
// 32 KiB blocks) written by LogWriter, sometimes followed by zero-filled
// space (a preallocated tail), then damaged by up to 4 byte flips and/or a
// truncation. Checks beyond "no trap": the modes agree with each
// other (see `checkModesAgree`), an undamaged log (with or without a zero tail) reads back exactly, and a
// log that was only truncated reads back as a prefix of what was written.

/// What one mode made of a log.
struct ModeResult {
    var records: [[UInt8]] = []
    var error: StrataError?
    var damageReports = 0
}

let modes: [WALRecoveryMode] = [.absoluteConsistency, .tolerateCorruptedTail, .pointInTime, .skipAnyCorruptedRecord]

func read(_ file: any ReadableFile, _ mode: WALRecoveryMode) -> ModeResult {
    let reader = LogReader(file: file, path: "/fuzz", mode: mode)
    var result = ModeResult()
    do {
        while let r = try reader.next() {
            result.records.append(r)
            if result.records.count > 1_000_000 { fuzzFailure("\(mode): reader does not terminate") }
        }
        if try reader.next() != nil { fuzzFailure("\(mode): a record after the end") }
    } catch {
        expectRejection(error, "LogReader \(mode)")
        result.error = error as? StrataError
        if mode == .pointInTime || mode == .skipAnyCorruptedRecord {
            fuzzFailure("\(mode) must not throw on damage: \(error)")
        }
    }
    result.damageReports = reader.damageReports.count
    return result
}

/// The modes see the same fragments and differ only in what they do at
/// damage, so: a log absolute consistency accepts is read identically by
/// all; point-in-time returns a prefix of skip-any's records; and
/// tolerate-corrupted-tail either throws or stops where point-in-time does.
func checkModesAgree(_ r: [ModeResult]) {
    let (abs, tail, pit, skip) = (r[0], r[1], r[2], r[3])
    if abs.error == nil {
        for other in r.dropFirst() where other.records != abs.records || other.damageReports != 0 {
            fuzzFailure("a log absoluteConsistency accepts is read differently by another mode")
        }
    }
    if pit.records.count > skip.records.count || Array(skip.records.prefix(pit.records.count)) != pit.records {
        fuzzFailure("pointInTime records are not a prefix of skipAnyCorruptedRecord records")
    }
    if tail.error == nil && tail.records != pit.records {
        fuzzFailure("tolerateCorruptedTail accepted the log but stopped elsewhere than pointInTime")
    }
}

func readAllModes(_ bytes: [UInt8]) -> [ModeResult] {
    let (_, file) = readableFile(bytes)
    let results = modes.map { read(file, $0) }
    checkModesAgree(results)
    return results
}

func structured(_ input: inout FuzzInput) {
    var records: [[UInt8]] = []
    let count = 1 + input.below(8)
    for i in 0..<count {
        // Mostly short records; one in eight long enough to span blocks.
        let length = input.byte() < 32 ? input.below(40_000) : input.below(300)
        var record = [UInt8](repeating: input.byte(), count: length)
        for j in stride(from: 0, to: length, by: 97) { record[j] = UInt8(truncatingIfNeeded: i &+ j) }
        records.append(record)
    }
    let fs = InMemoryFileSystem()
    do {
        let w = LogWriter(file: try fs.createFile(at: "/log"))
        for r in records { try w.addRecord(r) }
        try w.close()
        let file = try fs.openForReading(at: "/log")
        var bytes = try file.readAll(path: "/log")

        let clean = readAllModes(bytes)
        for m in clean where m.records != records || m.error != nil || m.damageReports != 0 {
            fuzzFailure("an undamaged log does not read back as written")
        }

        // A preallocated log (WritableFile.preallocate): zeros past the
        // data, up to two blocks and a bit, ending anywhere in a block. The
        // reader must take them for the end of the log in every mode; the
        // damage below may then land in the zeros too.
        if input.byte() < 96 {
            bytes += [UInt8](repeating: 0, count: input.below(2 * LogFormat.blockSize + 100))
            for m in readAllModes(bytes) where m.records != records || m.error != nil || m.damageReports != 0 {
                fuzzFailure("an undamaged log followed by zero-filled space does not read back as written")
            }
        }

        let flips = input.below(5)
        for _ in 0..<flips where !bytes.isEmpty {
            let at = input.uint16() % bytes.count
            let x = input.byte()
            bytes[at] ^= x == 0 ? 1 : x
        }
        var truncated = false
        if input.flag(), !bytes.isEmpty {
            bytes.removeSubrange((input.uint16() % bytes.count)...)
            truncated = true
        }
        let damaged = readAllModes(bytes)
        if flips == 0 && truncated {
            // A torn tail: everything but absolute consistency accepts it,
            // and what comes back is a prefix of what was written.
            for m in damaged.dropFirst() {
                if m.error != nil { fuzzFailure("a truncated log was rejected: \(m.error!)") }
                if m.records.count > records.count || Array(records.prefix(m.records.count)) != m.records {
                    fuzzFailure("a truncated log did not read back as a prefix of its records")
                }
            }
        }
    } catch {
        fuzzFailure("writing a log failed: \(error)")
    }
}

runFuzzer(seeds: {
    // Real logs of a few write batches, as the engine writes them.
    var seeds: [[UInt8]] = []
    for n in [1, 3, 20] {
        let fs = InMemoryFileSystem()
        let w = LogWriter(file: try fs.createFile(at: "/log"))
        for i in 0..<n {
            var b = WriteBatch()
            b.put(Array("key\(i)".utf8), Array(repeating: UInt8(i), count: i * 37))
            if i % 3 == 1 { b.delete(Array("key\(i - 1)".utf8)) }
            try w.addRecord(b.encoded(sequence: UInt64(100 + i)))
        }
        try w.close()
        seeds.append([0] + (try fs.openForReading(at: "/log").readAll(path: "/log")))
    }
    // Structured: records crossing a block, flips, a truncation.
    seeds.append([1, 2, 1, 0x40, 0x9c, 7, 200, 50, 9, 1, 0x10, 0x27, 0xff, 1, 0x00, 0x80])
    seeds.append([1, 5, 40, 10, 1, 40, 20, 2, 40, 30, 3, 40, 40, 4, 40, 50, 5, 0, 1, 0x30, 0x75])
    return seeds
}) { bytes in
    var input = FuzzInput(bytes)
    if input.byte() & 1 == 0 {
        _ = readAllModes(input.rest())
    } else {
        structured(&input)
    }
}
