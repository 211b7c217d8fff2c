import FuzzSupport
@testable import Strata

// A db_map-style target: the input is a program of operations on a
// Database over an InMemoryFileSystem with tiny buffers (so flushes and
// compactions happen every few operations), mirrored on a sorted in-memory
// model. Every read (get, scans both ways with and without bounds, seeks,
// snapshot reads) is compared with the model across flushes, compactions
// and close/reopen; any difference ends the run with fatalError. Range
// deletions (alone and inside batches) remove every model key in
// [begin, end); an empty or inverted range removes nothing.

/// Operations per input, so one input cannot run for long (each costs
/// about 0.15 ms under ASan and coverage instrumentation: flushes,
/// compactions and reopens come every few operations).
let maxOperations = 100

/// The model: key -> value.
typealias Model = [[UInt8]: [UInt8]]

/// 48 distinct keys of different lengths and shared prefixes (one empty).
func key(_ input: inout FuzzInput) -> [UInt8] {
    let k = input.below(48)
    if k == 0 { return [] }
    return Array(repeating: UInt8(ascii: "a") + UInt8(k % 16), count: 1 + k / 16) + (k % 5 == 0 ? [0] : [])
}

/// Removes every key in `[begin, end)` from `model`, the way a range tombstone does.
func deleteRange(_ model: inout Model, from begin: [UInt8], to end: [UInt8]) {
    for k in model.keys where !k.lexicographicallyPrecedes(begin) && k.lexicographicallyPrecedes(end) {
        model[k] = nil
    }
}

func sortedEntries(_ model: Model, from lower: [UInt8]? = nil, below upper: [UInt8]? = nil) -> [([UInt8], [UInt8])] {
    model.filter { k, _ in
        (lower.map { !k.lexicographicallyPrecedes($0) } ?? true) && (upper.map { k.lexicographicallyPrecedes($0) } ?? true)
    }
    .sorted { $0.key.lexicographicallyPrecedes($1.key) }
    .map { ($0.key, $0.value) }
}

/// One database and its model, driven by one input.
final class Session {
    let fs = InMemoryFileSystem()
    var options = Options()
    var db: Database!
    var model: Model = [:]
    var snapshots: [(Snapshot, Model)] = []
    var writes = 0
    var log: [String] = []

    init(_ input: inout FuzzInput) {
        options.fileSystem = fs
        options.logger = silentLogger
        options.writeBufferSize = 1024 + input.below(8) * 512
        options.blockSize = 64 + input.below(4) * 128
        options.blockRestartInterval = 1 + input.below(8)
        options.compression = input.flag() ? .lz4 : .none
        options.bloomBitsPerKey = input.flag() ? 10 : 0
        options.commitMode = .syncDurable
        options.level0FileNumCompactionTrigger = 2
        options.targetFileSizeBase = 4096
        options.maxBytesForLevelBase = 8192
        options.levelSizeMultiplier = 2
        options.blockCacheCapacity = input.flag() ? 0 : 1 << 16
        open()
    }

    func fail(_ what: String) -> Never {
        fuzzFailure("\(what)\nprogram so far:\n" + log.joined(separator: "\n"))
    }

    func open() {
        do {
            db = try Database.open(at: "/db", options: options)
        } catch {
            fail("open failed: \(error)")
        }
    }

    func value(_ input: inout FuzzInput) -> [UInt8] {
        writes += 1
        let length = input.below(16) == 0 ? 500 + input.below(1500) : input.below(24)
        var v = [UInt8](repeating: UInt8(truncatingIfNeeded: writes), count: length)
        if length >= 2 { v[0] = UInt8(truncatingIfNeeded: writes >> 8); v[1] = UInt8(truncatingIfNeeded: writes) }
        return v
    }

    func checkGet(_ k: [UInt8], snapshot: Snapshot?, expected: Model) {
        do {
            let got = try db.get(k, options: ReadOptions(snapshot: snapshot))
            if got != expected[k] {
                fail("get(\(k)) = \(got.map { "\($0.count) bytes \($0.prefix(2))" } ?? "nil"), model has \(expected[k].map { "\($0.count) bytes \($0.prefix(2))" } ?? "nil")")
            }
        } catch {
            fail("get failed: \(error)")
        }
    }

    func checkScan(_ input: inout FuzzInput, snapshot: Snapshot?, expected: Model) {
        let lower = input.below(3) == 0 ? key(&input) : nil
        let upper = input.below(3) == 0 ? key(&input) : nil
        let want = sortedEntries(expected, from: lower, below: upper)
        do {
            let it = try db.makeIterator(options: ReadOptions(snapshot: snapshot, lowerBound: lower, upperBound: upper))
            var got: [([UInt8], [UInt8])] = []
            it.seekToFirst()
            while it.isValid { got.append((it.key, it.value)); it.next() }
            try it.checkStatus()
            if !got.elementsEqual(want, by: { $0.0 == $1.0 && $0.1 == $1.1 }) {
                fail("forward scan [\(lower ?? []), \(upper.map { "\($0)" } ?? "end")) returned keys \(got.map { $0.0 }), model has \(want.map { $0.0 })")
            }
            got = []
            it.seekToLast()
            while it.isValid { got.append((it.key, it.value)); it.prev() }
            try it.checkStatus()
            if !got.reversed().elementsEqual(want, by: { $0.0 == $1.0 && $0.1 == $1.1 }) {
                fail("backward scan returned keys \(got.map { $0.0 }), model has \(want.reversed().map { $0.0 })")
            }
            // A seek, then a few steps each way.
            let target = key(&input)
            let forward = input.flag()
            if forward { it.seek(target) } else { it.seekForPrev(target) }
            var index = forward
                ? want.firstIndex { !$0.0.lexicographicallyPrecedes(target) }
                : want.lastIndex { !target.lexicographicallyPrecedes($0.0) }
            for step in 0..<4 {
                guard let i = index, want.indices.contains(i) else {
                    if it.isValid { fail("\(forward ? "seek" : "seekForPrev")(\(target)) step \(step): at \(it.key), model is past the end") }
                    break
                }
                if !it.isValid || it.key != want[i].0 || it.value != want[i].1 {
                    fail("\(forward ? "seek" : "seekForPrev")(\(target)) step \(step): at \(it.isValid ? "\(it.key)" : "end"), model at \(want[i].0)")
                }
                if input.flag() { it.next(); index = i + 1 } else { it.prev(); index = i - 1 }
            }
            try it.checkStatus()
        } catch {
            fail("scan failed: \(error)")
        }
    }

    func step(_ input: inout FuzzInput) {
        let op = input.below(16)
        do {
            switch op {
            case 0, 1, 2:
                let (k, v) = (key(&input), value(&input))
                log.append("put \(k) (\(v.count) bytes)")
                try db.put(k, v)
                model[k] = v
            case 3:
                let k = key(&input)
                log.append("delete \(k)")
                try db.delete(k)
                model[k] = nil
            case 4:
                let (begin, end) = (key(&input), key(&input))
                log.append("deleteRange \(begin) \(end)")
                try db.deleteRange(from: begin, to: end)
                deleteRange(&model, from: begin, to: end)
            case 5:
                var batch = WriteBatch()
                var next = model
                for _ in 0..<(1 + input.below(8)) {
                    let k = key(&input)
                    switch input.below(4) {
                    case 0, 1:
                        let v = value(&input)
                        batch.put(k, v)
                        next[k] = v
                    case 2:
                        batch.delete(k)
                        next[k] = nil
                    default:
                        // Later records of the batch may write into the range again.
                        let end = key(&input)
                        batch.deleteRange(from: k, to: end)
                        deleteRange(&next, from: k, to: end)
                    }
                }
                log.append("batch of \(batch.count)")
                try db.write(batch)
                model = next
            case 6, 7:
                let k = key(&input)
                log.append("get \(k)")
                checkGet(k, snapshot: nil, expected: model)
            case 8, 9:
                log.append("scan")
                checkScan(&input, snapshot: nil, expected: model)
            case 10:
                log.append("flush")
                try db.flush()
            case 11:
                let begin = input.flag() ? key(&input) : nil
                let end = input.flag() ? key(&input) : nil
                log.append("compactRange \(begin.map { "\($0)" } ?? "nil") \(end.map { "\($0)" } ?? "nil")")
                try db.compactRange(begin, end)
            case 12:
                // Half as often as the other operations: each open starts
                // the engine's four background threads.
                guard input.flag() else { return }
                log.append("close and reopen")
                snapshots.removeAll()
                try db.close()
                db = nil
                open()
            case 13:
                log.append("snapshot")
                if snapshots.count >= 3 { snapshots.removeFirst() }
                snapshots.append((db.snapshot(), model))
            default:
                guard !snapshots.isEmpty else { return }
                let (snapshot, old) = snapshots[input.below(snapshots.count)]
                if input.flag() {
                    let k = key(&input)
                    log.append("snapshot get \(k)")
                    checkGet(k, snapshot: snapshot, expected: old)
                } else {
                    log.append("snapshot scan")
                    checkScan(&input, snapshot: snapshot, expected: old)
                }
            }
        } catch {
            fail("operation failed: \(error)")
        }
    }

    /// A last full comparison after reopening, then close.
    func dump(_ what: [UInt8]) -> String {
        var out = ""
        let core = db.core
        core.mu.lock()
        let v = core.versions.current(0)
        core.mu.unlock()
        for level in 0..<Version.numLevels {
            for f in v.files[level] {
                out += "L\(level) #\(f.number) [\(f.smallest.withUnsafeBytes { Array(userKeyOf($0)) }) .. \(f.largest.withUnsafeBytes { Array(userKeyOf($0)) })]"
                if let r = try? core.tableCache.reader(for: f, comparator: .bytewise) {
                    out += " tombstones \(r.rangeTombstones.map { "[\($0.begin),\($0.end))@\($0.sequence)" })"
                    let it = r.makeIterator(verifyChecksums: true, fillCache: false)
                    it.seekToFirst()
                    while it.isValid {
                        if Array(userKeyOf(it.key)) == what { out += " \(what)@\(sequenceOf(it.key)) kind \(String(describing: kindOf(it.key)))" }
                        it.next()
                    }
                }
                out += "\n"
            }
        }
        return out
    }

    func finish() {
        do {
            let it0 = try db.makeIterator()
            var got0: [[UInt8]] = []
            it0.seekToFirst()
            while it0.isValid { got0.append(it0.key); it0.next() }
            let want0 = sortedEntries(model).map(\.0)
            if got0 != want0 {
                let extra = got0.filter { !want0.contains($0) }
                fail("BEFORE CLOSE db \(got0) model \(want0)\n" + dump(extra.first ?? []))
            }
        } catch { fail("pre-close check failed: \(error)") }
        snapshots.removeAll()
        do {
            try db.close()
            db = nil
            open()
            let it = try db.makeIterator()
            var got: [([UInt8], [UInt8])] = []
            it.seekToFirst()
            while it.isValid { got.append((it.key, it.value)); it.next() }
            try it.checkStatus()
            let want = sortedEntries(model)
            if !got.elementsEqual(want, by: { $0.0 == $1.0 && $0.1 == $1.1 }) {
                let extra = got.map(\.0).filter { k in !want.contains { $0.0 == k } }
                fail("after the final reopen the database holds keys \(got.map { $0.0 }), model has \(want.map { $0.0 })\n" + dump(extra.first ?? []))
            }
            try db.close()
        } catch {
            fail("final check failed: \(error)")
        }
    }
}

runFuzzer(seeds: {
    var seeds: [[UInt8]] = []
    var rng = SplitMix(seed: 42)
    for length in [64, 400, 2000] {
        // Random programs; any bytes are a valid program.
        seeds.append((0..<length).map { _ in UInt8(truncatingIfNeeded: rng.next()) })
    }
    // Puts with large values, a flush, a compaction, a reopen, scans.
    seeds.append([3, 1, 1, 0, 0,  0, 5, 0, 200, 0,  1, 9, 0, 200, 1,  2, 17, 0, 250, 2,  10,  11, 0, 0,
                  12,  8, 0, 0, 0, 1, 1, 1, 1,  13,  3, 5,  14, 1, 5,  9, 1, 3, 1, 7, 0, 1, 0, 1])
    return seeds
}) { bytes in
    var input = FuzzInput(bytes)
    let session = Session(&input)
    var operations = 0
    while !input.isAtEnd && operations < maxOperations {
        session.step(&input)
        operations += 1
    }
    session.finish()
}

/// A small deterministic generator for seed programs.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
