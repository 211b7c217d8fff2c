import Foundation
import Strata

/// Runs db_bench-style workloads against an embedded Strata database and
/// prints db_bench-style result lines plus latency percentiles.
///
/// Semantics follow db_bench: every fill* benchmark starts from a fresh
/// database (unless --use_existing_db), read benchmarks use what the previous
/// step left, and --threads=N runs N workers each doing --num operations
/// (fillsync: --num/1000 each, as in db_bench). With --use_existing_db the
/// benchmarks that need a fresh database are skipped, as in db_bench, and
/// every other benchmark runs against the database already at --db.
public final class BenchRunner {
    let flags: BenchFlags
    var db: Database?
    /// Advances per benchmark so that, as in db_bench, each one draws a different key sequence.
    var runCount: UInt64 = 0
    let values: ValueSource
    /// Told as each benchmark goes (the CLI's progress display); nil: nobody.
    public var progress: (any BenchProgress)?

    public init(flags: BenchFlags) {
        self.flags = flags
        self.values = ValueSource(valueSize: flags.valueSize, compressionRatio: flags.compressionRatio, seed: flags.seed)
    }

    /// Runs every benchmark named in the flags; returns false if one failed.
    public func run() -> Bool {
        printHeader()
        for name in flags.benchmarks {
            do {
                progress?.begin(name, total: expectedOperations(name))
                defer { progress?.end() }
                try runOne(name)
            } catch {
                FileHandle.standardError.write(Data("\(name): error: \(error)\n".utf8))
                return false
            }
        }
        if flags.statistics, let db {
            print(db.property("strata.stats") ?? "")
        }
        try? db?.close()
        db = nil
        return true
    }

    /// Operations `name` records (what its progress counts), where known.
    private func expectedOperations(_ name: String) -> Int? {
        let reads = flags.reads < 0 ? flags.num : flags.reads
        switch name {
        case "fillseq", "fillrandom", "overwrite": return flags.num * flags.threads
        case "fillsync": return max(1, flags.num / 1000) * flags.threads
        case "readrandom", "readseq": return reads * flags.threads
        default: return nil
        }
    }

    private func printHeader() {
        print("Strata bench")
        print("Keys:       \(flags.keySize) bytes each")
        print("Values:     \(flags.valueSize) bytes each (\(Int(Double(flags.valueSize) * flags.compressionRatio)) bytes after compression)")
        print("Entries:    \(flags.num)")
        print("Threads:    \(flags.threads)")
        print("Compression: \(flags.compression)")
        print("------------------------------------------------")
    }

    private func options() -> Options {
        var o = Options()
        o.writeBufferSize = flags.writeBufferSize
        o.maxBackgroundCompactions = flags.maxBackgroundCompactions
        if flags.maxBytesForLevelBase > 0 { o.maxBytesForLevelBase = UInt64(flags.maxBytesForLevelBase) }
        if flags.targetFileSizeBase > 0 { o.targetFileSizeBase = UInt64(flags.targetFileSizeBase) }
        o.blockCacheCapacity = flags.cacheSize
        o.allowMmapReads = flags.mmapRead
        if let r = flags.memtableBloomSizeRatio { o.memtableBloomSizeRatio = r }
        o.bloomBitsPerKey = flags.bloomBits
        o.blockSize = flags.blockSize
        o.compression = flags.compression == "none" ? .none : .lz4
        o.commitMode = flags.sync ? .syncDurable : .asyncDurable(groupWindow: .seconds(1))
        o.createIfMissing = !flags.useExistingDB
        // Flush and stall notices would interleave with the result lines.
        o.logger.logLevel = .warning
        return o
    }

    private func openDB(fresh: Bool) throws {
        try db?.close()
        db = nil
        if fresh && !flags.useExistingDB {
            try? FileManager.default.removeItem(atPath: flags.db)
        }
        db = try Database.open(at: flags.db, options: options())
    }

    private static let needFreshDB: Set<String> = ["fillseq", "fillrandom", "fillsync"]

    /// Every engine benchmark `runOne` knows, for the command's validation.
    public static let benchmarkNames = ["fillseq", "fillrandom", "overwrite", "readrandom", "readseq", "fillsync", "readwhilewriting",
                                        "seekrandom", "deleteseq", "deleterandom", "deleterange", "flush", "compact", "stats",
                                        "crc32c", "fdatasync"]

    private func runOne(_ name: String) throws {
        runCount += 1
        if flags.useExistingDB && Self.needFreshDB.contains(name) {
            print("\(name.padding(toLength: 12, withPad: " ", startingAt: 0)) : skipped (--use_existing_db is true)")
            return
        }
        switch name {
        case "fillseq": try openDB(fresh: true); try runWrites(name, order: .sequential, perThread: flags.num, sync: flags.sync)
        case "fillrandom": try openDB(fresh: true); try runWrites(name, order: .random, perThread: flags.num, sync: flags.sync)
        case "fillsync": try openDB(fresh: true); try runWrites(name, order: .random, perThread: max(1, flags.num / 1000), sync: true)
        case "deleteseq":
            if db == nil { try openDB(fresh: false) }
            try runDeletes(name, order: .sequential)
        case "deleterandom":
            if db == nil { try openDB(fresh: false) }
            try runDeletes(name, order: .random)
        case "readwhilewriting":
            if db == nil { try openDB(fresh: false) }
            try runReadWhileWriting(name)
        case "seekrandom":
            if db == nil { try openDB(fresh: false) }
            try runSeekRandom(name)
        case "overwrite":
            if db == nil { try openDB(fresh: false) }
            try runWrites(name, order: .random, perThread: flags.num, sync: flags.sync)
        case "readrandom":
            if db == nil { try openDB(fresh: false) }
            try runReadRandom(name)
        case "readseq":
            if db == nil { try openDB(fresh: false) }
            try runReadSeq(name)
        case "deleterange":
            if db == nil { try openDB(fresh: false) }
            try runDeleteRange(name)
        case "crc32c":
            runCRC32C()
        case "fdatasync":
            try runFdatasync()
        case "flush":
            if db == nil { try openDB(fresh: false) }
            try db!.flush()
        case "compact":
            if db == nil { try openDB(fresh: false) }
            let t0 = nowNanoseconds()
            try db!.compactRange(nil, nil)
            let seconds = Double(nowNanoseconds() - t0) / 1e9
            progress?.end()
            print("compact      : \(String(format: "%.3f", seconds)) seconds")
            for level in 0..<7 {
                let n = db!.property("strata.num-files-at-level\(level)") ?? "?"
                if n != "0" { print("    level \(level): \(n) files") }
            }
        case "stats":
            if db == nil { try openDB(fresh: false) }
            progress?.end()
            print(db!.property("strata.stats") ?? "")
        default:
            throw BenchFlagError("unknown benchmark '\(name)'")
        }
    }

    enum Order { case sequential, random }

    private func runWrites(_ name: String, order: Order, perThread: Int, sync: Bool) throws {
        let db = self.db!
        let wopts = WriteOptions(commitMode: sync ? .syncDurable : nil)
        let flags = self.flags, values = self.values
        let base = flags.seed &+ runCount &* 1_000_003
        let result = try runThreads { thread, hist in
            var rng = SplitMix64(seed: base &+ UInt64(thread) &* 7919 &+ 1)
            var key = [UInt8](repeating: 0x30, count: flags.keySize)
            var valueOffset = thread * 997
            var bytes = 0
            // As in readseq, one write in `writeSampleEvery` is timed for
            // the percentiles (a put takes 2-4 µs, and two clock reads per
            // put were 1.7% of fillseq's profile, a cost LevelDB's bench does
            // not pay); ops/s come from the loop's wall time.
            for i in 0..<perThread {
                let k = order == .sequential ? UInt64(i + thread * perThread) : rng.next() % UInt64(flags.num)
                encodeKey(k, into: &key)
                let value = values.next(&valueOffset)
                if i % Self.writeSampleEvery == 0 {
                    let t0 = nowNanoseconds()
                    try db.put(key, value, options: wopts)
                    hist.recordSample(nowNanoseconds() - t0, standingFor: Self.writeSampleEvery)
                } else {
                    try db.put(key, value, options: wopts)
                }
                bytes += key.count + value.count
            }
            return (perThread, bytes, "")
        }
        report(name, result)
    }

    private func runReadRandom(_ name: String) throws {
        let result = try runThreads(readRandomBody())
        report(name, result)
    }

    /// Each thread looks up `--reads` (or `--num`) random keys.
    func readRandomBody() -> @Sendable (Int, inout LatencyHistogram) throws -> (ops: Int, bytes: Int, note: String) {
        let db = self.db!
        let perThread = flags.reads < 0 ? flags.num : flags.reads
        let flags = self.flags
        let base = flags.seed &+ runCount &* 1_000_003
        return { thread, hist in
            var rng = SplitMix64(seed: base &+ UInt64(thread) &* 104_729 &+ 17)
            var key = [UInt8](repeating: 0x30, count: flags.keySize)
            var found = 0
            var bytes = 0
            for _ in 0..<perThread {
                encodeKey(rng.next() % UInt64(flags.num), into: &key)
                let t0 = nowNanoseconds()
                let v = try db.get(key)
                hist.record(nowNanoseconds() - t0)
                if let v {
                    found += 1
                    bytes += key.count + v.count
                }
            }
            return (perThread, bytes, "(\(found) of \(perThread) found)")
        }
    }

    /// readseq times one step in this many (see `runReadSeq`).
    static let readSeqSampleEvery = 16
    /// fillseq, fillrandom and overwrite time one write in this many (see
    /// `runWrites`); fillsync is the same loop, and at a millisecond per
    /// write the sample is still thousands of writes.
    static let writeSampleEvery = 16

    private func runReadSeq(_ name: String) throws {
        let db = self.db!
        let perThread = flags.reads < 0 ? flags.num : flags.reads
        let result = try runThreads { _, hist in
            let it = try db.makeIterator()
            var n = 0
            var bytes = 0
            it.seekToFirst()
            // A step takes ~100-200 ns, and reading the clock around every
            // one was 13% of readseq's time (perf), a cost db_bench and
            // LevelDB's bench do not pay without --histogram. So one step in
            // `readSeqSampleEvery` is timed: the percentiles come from that
            // sample, the ops/s from the whole loop's wall time as before.
            while it.isValid && n < perThread {
                bytes += it.withKeyAndValue { $0.count + $1.count }
                n += 1
                if n % Self.readSeqSampleEvery == 0 {
                    let t0 = nowNanoseconds()
                    it.next()
                    hist.recordSample(nowNanoseconds() - t0, standingFor: Self.readSeqSampleEvery)
                } else {
                    it.next()
                }
            }
            try it.checkStatus()
            return (n, bytes, "")
        }
        report(name, result)
    }

    struct ThreadResult {
        var seconds: Double
        var ops: Int
        var bytes: Int
        var note: String
        var histogram: LatencyHistogram
    }

    /// Runs `body` on `flags.threads` threads started together; returns the
    /// wall time of the slowest and the merged histogram.
    func runThreads(_ body: @escaping @Sendable (Int, inout LatencyHistogram) throws -> (ops: Int, bytes: Int, note: String)) throws -> ThreadResult {
        let n = flags.threads
        let progress = self.progress
        let collector = ResultCollector(count: n)
        let start = DispatchSemaphore(value: 0)
        for t in 0..<n {
            let thread = Thread {
                start.wait()
                var hist = LatencyHistogram(progress: progress)
                do {
                    let (ops, bytes, note) = try body(t, &hist)
                    collector.finish(t, ops: ops, bytes: bytes, note: note, hist: hist, error: nil)
                } catch {
                    collector.finish(t, ops: 0, bytes: 0, note: "", hist: hist, error: error)
                }
            }
            thread.stackSize = 1 << 20
            thread.start()
        }
        let wall0 = nowNanoseconds()
        for _ in 0..<n { start.signal() }
        let r = collector.wait()
        if let e = r.error { throw e }
        return ThreadResult(seconds: Double(nowNanoseconds() - wall0) / 1e9, ops: r.ops, bytes: r.bytes, note: r.note, histogram: r.hist)
    }

    func report(_ name: String, _ r: ThreadResult) {
        progress?.end()  // the bar goes before the result line
        let ops = Double(r.ops)
        // db_bench reports micros/op per thread-op (elapsed * threads / ops).
        let microsPerOp = r.seconds * 1e6 * Double(flags.threads) / max(ops, 1)
        let opsPerSec = ops / max(r.seconds, 1e-9)
        let mbps = Double(r.bytes) / 1_048_576 / max(r.seconds, 1e-9)
        let line = "\(name.padding(toLength: 12, withPad: " ", startingAt: 0)) : \(fmt(microsPerOp, 3).leftPad(11)) micros/op \(String(Int(opsPerSec)).leftPad(8)) ops/sec; \(fmt(mbps, 1).leftPad(6)) MB/s \(r.note)"
        print(line)
        if flags.histogram {
            let h = r.histogram
            print("    latency: p50 \(fmt(Double(h.percentile(50)) / 1000, 2)) us, p99 \(fmt(Double(h.percentile(99)) / 1000, 2)) us, p99.9 \(fmt(Double(h.percentile(99.9)) / 1000, 2)) us, max \(fmt(Double(h.maxValue) / 1000, 1)) us")
        }
    }
}

/// Collects per-thread results; `wait()` returns when all threads finished.
private final class ResultCollector: @unchecked Sendable {
    // All fields guarded by `lock`.
    private let lock = NSCondition()
    private var remaining: Int
    private var ops = 0
    private var bytes = 0
    private var note = ""
    private var hist = LatencyHistogram()
    private var error: (any Error)?

    init(count: Int) { remaining = count }

    func finish(_ t: Int, ops: Int, bytes: Int, note: String, hist: LatencyHistogram, error: (any Error)?) {
        lock.lock()
        self.ops += ops
        self.bytes += bytes
        if !note.isEmpty { self.note = note }
        self.hist.merge(hist)
        if let error, self.error == nil { self.error = error }
        remaining -= 1
        lock.broadcast()
        lock.unlock()
    }

    func wait() -> (ops: Int, bytes: Int, note: String, hist: LatencyHistogram, error: (any Error)?) {
        lock.lock()
        while remaining > 0 { lock.wait() }
        defer { lock.unlock() }
        return (ops, bytes, note, hist, error)
    }
}

func fmt(_ v: Double, _ decimals: Int) -> String {
    String(format: "%.\(decimals)f", v)
}

extension String {
    func leftPad(_ n: Int) -> String { count >= n ? self : String(repeating: " ", count: n - count) + self }
}

@inline(__always)
func nowNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}
