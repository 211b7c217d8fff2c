import ArgumentParser
import Foundation
import StrataBench

/// A db_bench (gflags) boolean: `true`/`false`/`1`/`0`; a bare `--flag`
/// means true (see `BenchCommand.normalizingBareBooleans`).
struct GFlagBool: ExpressibleByArgument {
    let value: Bool
    init?(argument: String) {
        switch argument {
        case "true", "1": value = true
        case "false", "0": value = false
        default: return nil
        }
    }
    static var allValueStrings: [String] { ["true", "false", "1", "0"] }
}

/// A comma-separated list of positive integers (`--clients=1,8,64`).
struct PositiveIntList: ExpressibleByArgument {
    let values: [Int]
    init?(argument: String) {
        let parts = argument.split(separator: ",", omittingEmptySubsequences: false)
        let v = parts.compactMap { Int($0) }
        guard !parts.isEmpty, v.count == parts.count, v.allSatisfy({ $0 > 0 }) else { return nil }
        values = v
    }
}

/// A comma-separated list of names from a fixed set.
struct NameList: ExpressibleByArgument {
    let values: [String]
    init?(argument: String) {
        values = argument.split(separator: ",").map(String.init)
        if values.isEmpty { return nil }
    }
}

/// `strata bench`: db_bench's benchmark names and flag spelling
/// (`--benchmarks=a,b`, `--use_existing_db`, `--num=N`), so
/// Benchmarks/compare-rocksdb.sh runs both with one command line; the
/// `msg_*` benchmarks run the message workloads, the `evt_*` ones the event
/// store workloads.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "db_bench-compatible benchmarks of the engine, and message-store workloads (msg_*).",
        discussion: """
            Engine benchmarks: fillseq fillrandom overwrite readrandom readseq fillsync readwhilewriting \
            seekrandom deleteseq deleterandom deleterange flush compact stats crc32c fdatasync. Message benchmarks: \
            msg_enqueue msg_roundtrip msg_pending (with --clients, --backend, --commit, --sqlite_sync, --batch, \
            --pg_url; list flags run every value). Event benchmarks: evt_append evt_load evt_recover (with --backend, \
            --commit, --clients, --batch, --num, --value_size, --pg_url; lists run every value). Booleans take \
            true/false/1/0; a bare --flag is true. \
            Progress of each benchmark goes to stderr (a bar on a terminal, a line every 5 s otherwise; -q silences it).
            """)

    /// The names of the boolean flags, for the bare-flag rewrite.
    static let booleanFlags: Set<String> = ["sync", "use_existing_db", "mmap_read", "histogram", "statistics"]

    /// gflags accepts a bare boolean (`--use_existing_db`); ArgumentParser
    /// options always take a value, so `bench`'s bare booleans become
    /// `--name=true` before parsing. Nothing else is touched.
    static func normalizingBareBooleans(_ arguments: [String]) -> [String] {
        guard arguments.first == "bench" else { return arguments }
        return arguments.map { booleanFlags.contains(String($0.dropFirst(2))) && $0.hasPrefix("--") ? $0 + "=true" : $0 }
    }

    @Option(name: .customLong("benchmarks"), help: "Comma-separated benchmark names.") var benchmarks: NameList?
    @Option(name: .customLong("num"), help: "Keys (engine) or messages (msg_*) per run.") var num: Int?
    @Option(name: .customLong("reads"), help: "Reads per thread for read benchmarks (-1: --num).") var reads: Int?
    @Option(name: .customLong("key_size"), help: "Key bytes (at least 8).") var keySize: Int?
    @Option(name: .customLong("value_size"), help: "Value bytes; msg_* take a list.") var valueSize: PositiveIntList?
    @Option(name: .customLong("threads"), help: "Threads.") var threads: Int?
    @Option(name: .customLong("compression_type"), help: "lz4 or none.") var compression: String?
    @Option(name: .customLong("sync"), help: "Synced writes.") var sync: GFlagBool?
    @Option(name: .customLong("db"), help: "The database (or scratch) directory.") var db: String?
    @Option(name: .customLong("use_existing_db"), help: "Keep the database's contents.") var useExistingDB: GFlagBool?
    @Option(name: .customLong("write_buffer_size"), help: "Memtable bytes.") var writeBufferSize: Int?
    @Option(name: .customLong("max_background_compactions"), help: "Compaction threads.") var maxBackgroundCompactions: Int?
    @Option(name: .customLong("max_bytes_for_level_base"), help: "Level 1 size (0: default).") var maxBytesForLevelBase: Int?
    @Option(name: .customLong("target_file_size_base"), help: "Table size (0: default).") var targetFileSizeBase: Int?
    @Option(name: .customLong("cache_size"), help: "Block cache bytes.") var cacheSize: Int?
    @Option(name: .customLong("mmap_read"), help: "Read tables through memory mappings.") var mmapRead: GFlagBool?
    @Option(name: .customLong("memtable_bloom_size_ratio"), help: "0 ... 0.25.") var memtableBloomSizeRatio: Double?
    @Option(name: .customLong("bloom_bits"), help: "Bloom filter bits per key.") var bloomBits: Int?
    @Option(name: .customLong("block_size"), help: "Block bytes.") var blockSize: Int?
    @Option(name: .customLong("seed"), help: "Random seed.") var seed: UInt64?
    @Option(name: .customLong("compression_ratio"), help: "Compressibility of values.") var compressionRatio: Double?
    @Option(name: .customLong("histogram"), help: "Print latency histograms.") var histogram: GFlagBool?
    @Option(name: .customLong("seek_nexts"), help: "Next() calls after each seek.") var seekNexts: Int?
    @Option(name: .customLong("statistics"), help: "Print the database's statistics at the end.") var statistics: GFlagBool?
    // Message workloads
    @Option(name: .customLong("clients"), help: "msg_*: producer (and consumer) counts.") var clients: PositiveIntList?
    @Option(name: .customLong("batch"), help: "msg_*: messages per add and receive; evt_*: a list of events per append.") var batch: PositiveIntList?
    @Option(name: .customLong("backend"), help: "msg_*: lsm, sqlite, postgres, memory.") var backend: NameList?
    @Option(name: .customLong("commit"), help: "msg_*: LSM commit modes sync, async, memory.") var commit: NameList?
    @Option(name: .customLong("sqlite_sync"), help: "msg_*: full, normal.") var sqliteSync: NameList?
    @Option(name: .customLong("pg_url"), help: "msg_*: PostgreSQL connection URL.") var pgURL: String?
    /// Progress per benchmark on stderr (a bar on a terminal, a line every few seconds otherwise).
    @OptionGroup var progress: ProgressOptions

    private var isMessageRun: Bool { benchmarks?.values.contains { $0.hasPrefix("msg_") } ?? false }
    private var isEventRun: Bool { benchmarks?.values.contains { $0.hasPrefix("evt_") } ?? false }

    func validate() throws {
        func nonNegative(_ v: Int?, _ name: String) throws {
            if let v, v < 0 { throw ValidationError("--\(name) must not be negative, got \(v)") }
        }
        for (v, n) in [(num, "num"), (keySize, "key_size"), (threads, "threads"), (writeBufferSize, "write_buffer_size"),
                       (maxBackgroundCompactions, "max_background_compactions"), (maxBytesForLevelBase, "max_bytes_for_level_base"),
                       (targetFileSizeBase, "target_file_size_base"), (cacheSize, "cache_size"), (bloomBits, "bloom_bits"),
                       (blockSize, "block_size"), (seekNexts, "seek_nexts")] {
            try nonNegative(v, n)
        }
        if let c = compression, c != "lz4" && c != "none" { throw ValidationError("--compression_type must be lz4 or none, got '\(c)'") }
        if let r = memtableBloomSizeRatio, !(0...0.25).contains(r) {
            throw ValidationError("--memtable_bloom_size_ratio must be a number from 0 to 0.25, got \(r)")
        }
        if let k = keySize, k < 8 { throw ValidationError("--key_size must be at least 8") }
        if isEventRun {
            try validateEventRun()
        } else if isMessageRun {
            let names = benchmarks?.values ?? []
            guard names.allSatisfy({ ["msg_enqueue", "msg_roundtrip", "msg_pending"].contains($0) }) else {
                throw ValidationError("message benchmarks (msg_enqueue, msg_roundtrip, msg_pending) cannot be mixed with others: \(names.joined(separator: ","))")
            }
            let engineOnly: [(Any?, String)] = [(reads, "reads"), (keySize, "key_size"), (threads, "threads"), (compression, "compression_type"),
                                                (sync, "sync"), (useExistingDB, "use_existing_db"), (seekNexts, "seek_nexts"), (statistics, "statistics")]
            if let bad = engineOnly.first(where: { $0.0 != nil }) { throw ValidationError("--\(bad.1) is not a flag of the message benchmarks") }
            if let b = batch?.values, b.count != 1 { throw ValidationError("--batch takes one size for message benchmarks") }
            if let l = backend?.values, !l.allSatisfy({ ["lsm", "sqlite", "postgres", "memory"].contains($0) }) {
                throw ValidationError("--backend takes lsm, sqlite, postgres, memory")
            }
            if let l = commit?.values, !l.allSatisfy({ ["sync", "async", "memory"].contains($0) }) { throw ValidationError("--commit takes sync, async, memory") }
            if let l = sqliteSync?.values, !l.allSatisfy({ ["full", "normal"].contains($0) }) { throw ValidationError("--sqlite_sync takes full, normal") }
            if let n = num, n < 1 { throw ValidationError("--num must be positive") }
        } else {
            if let unknown = benchmarks?.values.first(where: { !BenchRunner.benchmarkNames.contains($0) }) {
                throw ValidationError("unknown benchmark '\(unknown)' (engine: \(BenchRunner.benchmarkNames.joined(separator: " ")); or msg_*, evt_*)")
            }
            let messageOnly: [(Any?, String)] = [(clients, "clients"), (batch, "batch"), (backend, "backend"), (commit, "commit"),
                                                 (sqliteSync, "sqlite_sync"), (pgURL, "pg_url")]
            if let bad = messageOnly.first(where: { $0.0 != nil }) { throw ValidationError("--\(bad.1) is a flag of the msg_* benchmarks only") }
            if let v = valueSize?.values, v.count != 1 { throw ValidationError("--value_size takes one size for engine benchmarks") }
        }
    }

    /// The `evt_*` benchmarks take the message benchmarks' list flags but
    /// neither the engine's flags nor `--sqlite_sync` (their commit mode
    /// sets SQLite's synchronous).
    private func validateEventRun() throws {
        let names = benchmarks?.values ?? []
        guard names.allSatisfy(EventBenchFlags.names.contains) else {
            throw ValidationError("event benchmarks (\(EventBenchFlags.names.joined(separator: ", "))) cannot be mixed with others: \(names.joined(separator: ","))")
        }
        let notEvent: [(Any?, String)] = [(reads, "reads"), (keySize, "key_size"), (threads, "threads"), (compression, "compression_type"),
                                          (sync, "sync"), (useExistingDB, "use_existing_db"), (seekNexts, "seek_nexts"),
                                          (statistics, "statistics"), (sqliteSync, "sqlite_sync")]
        if let bad = notEvent.first(where: { $0.0 != nil }) { throw ValidationError("--\(bad.1) is not a flag of the event benchmarks") }
        if let l = backend?.values, !l.allSatisfy(EventBenchFlags.backendNames.contains) {
            throw ValidationError("--backend takes \(EventBenchFlags.backendNames.joined(separator: ", "))")
        }
        if let l = commit?.values, !l.allSatisfy(EventBenchFlags.commitNames.contains) {
            throw ValidationError("--commit takes \(EventBenchFlags.commitNames.joined(separator: ", "))")
        }
        if let v = valueSize?.values, v.count != 1 { throw ValidationError("--value_size takes one size for event benchmarks") }
        if let n = num, n < 1 { throw ValidationError("--num must be positive") }
    }

    func run() async throws {
        if isEventRun {
            var f = EventBenchFlags()
            if let v = benchmarks?.values { f.benchmarks = v }
            if let v = num { f.num = v }
            if let v = clients?.values { f.clients = v }
            if let v = batch?.values { f.batches = v }
            if let v = valueSize?.values.first { f.valueSize = v }
            if let v = backend?.values { f.backends = v }
            if let v = commit?.values { f.commits = v }
            if let v = db { f.db = v }
            if let v = pgURL { f.pgURL = v }
            var runner = EventBenchRunner(flags: f)
            if !progress.quiet { runner.progress = BenchProgressDisplay(unit: "events", quiet: false) }
            if await !runner.run() { throw ExitCode.failure }
            return
        }
        if isMessageRun {
            var f = MessageBenchFlags()
            if let v = benchmarks?.values { f.benchmarks = v }
            if let v = num { f.num = v }
            if let v = clients?.values { f.clients = v }
            if let v = valueSize?.values { f.valueSizes = v }
            if let v = batch?.values.first { f.batch = v }
            if let v = backend?.values { f.backends = v }
            if let v = commit?.values { f.commits = v }
            if let v = sqliteSync?.values { f.sqliteSync = v }
            if let v = db { f.db = v }
            if let v = pgURL { f.pgURL = v }
            var runner = MessageBenchRunner(flags: f)
            if !progress.quiet { runner.progress = BenchProgressDisplay(unit: "messages", quiet: false) }
            if await !runner.run() { throw ExitCode.failure }
            return
        }
        var f = BenchFlags()
        if let v = benchmarks?.values { f.benchmarks = v }
        if let v = num { f.num = v }
        if let v = reads { f.reads = v }
        if let v = keySize { f.keySize = v }
        if let v = valueSize?.values.first { f.valueSize = v }
        if let v = threads { f.threads = max(1, v) }
        if let v = compression { f.compression = v }
        if let v = sync { f.sync = v.value }
        if let v = db { f.db = v }
        if let v = useExistingDB { f.useExistingDB = v.value }
        if let v = writeBufferSize { f.writeBufferSize = v }
        if let v = maxBackgroundCompactions { f.maxBackgroundCompactions = max(1, v) }
        if let v = maxBytesForLevelBase { f.maxBytesForLevelBase = v }
        if let v = targetFileSizeBase { f.targetFileSizeBase = v }
        if let v = cacheSize { f.cacheSize = v }
        if let v = mmapRead { f.mmapRead = v.value }
        if let v = memtableBloomSizeRatio { f.memtableBloomSizeRatio = v }
        if let v = bloomBits { f.bloomBits = v }
        if let v = blockSize { f.blockSize = v }
        if let v = seed { f.seed = v }
        if let v = compressionRatio { f.compressionRatio = v }
        if let v = histogram { f.histogram = v.value }
        if let v = seekNexts { f.seekNexts = v }
        if let v = statistics { f.statistics = v.value }
        let runner = BenchRunner(flags: f)
        if !progress.quiet { runner.progress = BenchProgressDisplay(unit: "ops", quiet: false) }  // -q: nothing counted
        if !runner.run() { throw ExitCode.failure }
    }
}
