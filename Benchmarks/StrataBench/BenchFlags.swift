/// db_bench-compatible flags. Names and defaults follow RocksDB's db_bench
/// so that the same command line runs against both.
public struct BenchFlags: Sendable {
    public var benchmarks: [String] = ["fillseq", "fillrandom", "overwrite", "readrandom", "readseq"]
    public var num = 1_000_000
    /// Reads per thread for read benchmarks; -1 means `num`.
    public var reads = -1
    public var keySize = 16
    public var valueSize = 100
    public var threads = 1
    public var compression = "lz4"
    public var sync = false
    public var db = "/tmp/strata-bench"
    public var useExistingDB = false
    public var writeBufferSize = 64 << 20
    /// Compaction threads (`Options.maxBackgroundCompactions`).
    public var maxBackgroundCompactions = 1
    /// `Options.maxBytesForLevelBase` and `Options.targetFileSizeBase`; 0 keeps the defaults.
    public var maxBytesForLevelBase = 0
    public var targetFileSizeBase = 0
    public var cacheSize = 32 << 20
    /// `Options.allowMmapReads` (db_bench's `--mmap_read`, default off in both).
    public var mmapRead = false
    /// `Options.memtableBloomSizeRatio` (db_bench's `--memtable_bloom_size_ratio`); nil keeps Strata's default.
    public var memtableBloomSizeRatio: Double? = nil
    public var bloomBits = 10
    public var blockSize = 4096
    public var seed: UInt64 = 301
    public var compressionRatio = 0.5
    public var histogram = true
    /// Next() calls after each seek in seekrandom.
    public var seekNexts = 0
    /// Print the database's statistics after the last benchmark.
    public var statistics = false

    public init() {}

    /// Parses `--name=value` arguments; returns an error message for a bad one.
    public static func parse(_ args: [String]) -> Result<BenchFlags, BenchFlagError> {
        var f = BenchFlags()
        for arg in args {
            guard arg.hasPrefix("--") else { return .failure(BenchFlagError("unexpected argument '\(arg)'")) }
            let body = arg.dropFirst(2)
            let name: String
            let value: String
            if let eq = body.firstIndex(of: "=") {
                name = String(body[..<eq])
                value = String(body[body.index(after: eq)...])
            } else {
                name = String(body)
                value = "true"
            }
            func int() throws(BenchFlagError) -> Int {
                guard let v = Int(value), v >= 0 else { throw BenchFlagError("--\(name) needs a non-negative integer, got '\(value)'") }
                return v
            }
            func bool() throws(BenchFlagError) -> Bool {
                switch value {
                case "true", "1": return true
                case "false", "0": return false
                default: throw BenchFlagError("--\(name) needs true or false, got '\(value)'")
                }
            }
            do {
                switch name {
                case "benchmarks": f.benchmarks = value.split(separator: ",").map(String.init)
                case "num": f.num = try int()
                case "reads": f.reads = Int(value) ?? -1
                case "key_size": f.keySize = try int()
                case "value_size": f.valueSize = try int()
                case "threads": f.threads = max(1, try int())
                case "compression_type":
                    guard value == "lz4" || value == "none" else {
                        throw BenchFlagError("--compression_type must be lz4 or none, got '\(value)'")
                    }
                    f.compression = value
                case "sync": f.sync = try bool()
                case "db": f.db = value
                case "use_existing_db": f.useExistingDB = try bool()
                case "write_buffer_size": f.writeBufferSize = try int()
                case "max_background_compactions": f.maxBackgroundCompactions = max(1, try int())
                case "max_bytes_for_level_base": f.maxBytesForLevelBase = try int()
                case "target_file_size_base": f.targetFileSizeBase = try int()
                case "cache_size": f.cacheSize = try int()
                case "mmap_read": f.mmapRead = try bool()
                case "memtable_bloom_size_ratio":
                    guard let r = Double(value), r >= 0, r <= 0.25 else {
                        throw BenchFlagError("--memtable_bloom_size_ratio must be a number from 0 to 0.25, got '\(value)'")
                    }
                    f.memtableBloomSizeRatio = r
                case "bloom_bits": f.bloomBits = try int()
                case "block_size": f.blockSize = try int()
                case "seed": f.seed = UInt64(try int())
                case "compression_ratio": f.compressionRatio = Double(value) ?? 0.5
                case "histogram": f.histogram = try bool()
                case "seek_nexts": f.seekNexts = try int()
                case "statistics": f.statistics = try bool()
                default: throw BenchFlagError("unknown flag --\(name)")
                }
            } catch let e as BenchFlagError {
                return .failure(e)
            } catch {
                return .failure(BenchFlagError("\(error)"))
            }
        }
        if f.keySize < 8 { return .failure(BenchFlagError("--key_size must be at least 8")) }
        return .success(f)
    }
}

/// A bad command-line flag.
public struct BenchFlagError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ d: String) { description = d }
}
