/// db_bench-compatible settings. Names and defaults follow RocksDB's db_bench
/// so that the same command line runs against both; `strata bench` fills
/// them from its options (Sources/StrataCLI/Tools/BenchCommand.swift).
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
}

/// A bad command-line flag.
public struct BenchFlagError: Error, CustomStringConvertible, Sendable {
    public let description: String
    /// An error saying `d`.
    public init(_ d: String) { description = d }
}
