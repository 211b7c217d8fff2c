import CoreMetrics
import Logging

/// How a write becomes durable before `write` returns.
public enum CommitMode: Sendable, Equatable {
    /// No log record: the write lives in the memtable until a flush. Lost on
    /// any crash that happens before the next flush (see Docs/durability.md).
    case memoryOnly
    /// Logged and handed to the operating system before returning (survives a
    /// process crash); a background fsync follows within `groupWindow`, so a
    /// power loss loses at most that window.
    case asyncDurable(groupWindow: Duration)
    /// Logged and fsynced before returning; concurrent writers share one fsync.
    case syncDurable
}

/// How the write-ahead log is replayed on open when it holds damage.
public enum WALRecoveryMode: Sendable, Equatable {
    /// An incomplete or corrupt record at the very end of a log (a torn write)
    /// is dropped; damage anywhere else fails the open.
    case tolerateCorruptedTail
    /// Any damage, even a torn tail, fails the open.
    case absoluteConsistency
    /// Replay stops at the first damaged record; it and everything after it,
    /// in this and later logs, are dropped. The recovered state is a prefix.
    case pointInTime
    /// Damaged records are skipped and replay goes on (salvage mode; the
    /// result may have holes).
    case skipAnyCorruptedRecord
}

/// Block compression for table files.
public enum Compression: UInt8, Sendable, Equatable {
    /// Blocks stored as they are.
    case none = 0
    /// LZ4 (liblz4); a block that does not shrink is stored raw.
    case lz4 = 1
}

/// Options for opening a database.
public struct Options: Sendable {
    /// Create the database when the directory holds none.
    public var createIfMissing: Bool = true
    /// Fail when a database already exists at the path.
    public var errorIfExists: Bool = false
    /// Bytes of memtable data before it is switched out and flushed.
    public var writeBufferSize: Int = 64 << 20
    /// Target uncompressed size of a table data block.
    public var blockSize: Int = 4096
    /// Keys between restart points inside a block.
    public var blockRestartInterval: Int = 16
    /// Bytes of decompressed blocks kept in the block cache.
    public var blockCacheCapacity: Int = 32 << 20
    /// Compression of table blocks.
    public var compression: Compression = .lz4
    /// Bloom filter bits per key; 0 disables filters.
    public var bloomBitsPerKey: Int = 10
    /// Key order of the default column family, recorded when the database
    /// is created. Opening it later with a comparator of another name fails
    /// with `.invalidArgument` naming both.
    public var comparator: Comparator = .bytewise
    /// Comparators of other column families, by family name, for opening a
    /// database: every family created with a custom comparator must be
    /// listed (built-in comparators are found by their recorded name). A
    /// family listed with a comparator whose name differs from the one it
    /// was created with fails the open with `.invalidArgument`.
    public var columnFamilyComparators: [String: Comparator] = [:]
    /// Commit mode for writes that do not name one.
    public var commitMode: CommitMode = .asyncDurable(groupWindow: .milliseconds(10))
    /// What to do with damage found in the write-ahead log on open.
    public var walRecovery: WALRecoveryMode = .pointInTime
    /// Number of level-0 files that triggers a level-0 compaction.
    public var level0FileNumCompactionTrigger: Int = 4
    /// Number of level-0 files at which writes are slowed.
    public var level0SlowdownWritesTrigger: Int = 20
    /// Number of level-0 files at which writes wait for compaction.
    public var level0StopWritesTrigger: Int = 36
    /// Target size of level 1; deeper levels are `levelSizeMultiplier` times larger each.
    public var maxBytesForLevelBase: UInt64 = 256 << 20
    /// Growth factor between adjacent levels.
    public var levelSizeMultiplier: Double = 10
    /// Target size of table files written by compaction.
    public var targetFileSizeBase: UInt64 = 64 << 20
    /// Compaction threads, each running one job at a time; jobs running
    /// together never share a file or write overlapping ranges of a level
    /// (values below 1 are treated as 1, see `validated()`).
    public var maxBackgroundCompactions: Int = 1
    /// Estimated bytes compaction is behind (each level's excess over its
    /// target, plus level 0 once it reaches its trigger) at which writes are
    /// slowed; 0 disables.
    public var softPendingCompactionBytesLimit: UInt64 = 64 << 30
    /// Estimated bytes compaction is behind at which writes wait for it; 0 disables.
    public var hardPendingCompactionBytesLimit: UInt64 = 256 << 30
    /// Bytes of a whole-key bloom filter kept with each memtable, as a
    /// fraction of the family's write buffer (clamped to 0 ... 0.25; 0
    /// disables it). A lookup of a key the memtable does not hold then skips
    /// the skip-list search; each write sets six bits in one cache line.
    /// The default 1/64 gives a 64 MiB write buffer a 1 MiB filter (about
    /// 18 bits per key with 100-byte values). RocksDB's
    /// `memtable_prefix_bloom_size_ratio` with whole-key filtering.
    public var memtableBloomSizeRatio: Double = 1.0 / 64
    /// Largest number of table files kept open at once.
    public var maxOpenFiles: Int = 1000
    /// Opens the database read-only (`Database.openReadOnly`): no LOCK, no
    /// write to any file, a consistent view as of the open.
    public var readOnly = false
    /// Reads table files through memory mappings (`FileSystem.openForMappedReading`)
    /// rather than `pread`: a block-cache miss then costs no system call and
    /// no copy out of the page cache (about 10% off random reads that miss
    /// the cache; Docs/benchmarks.md). Off by default, as in RocksDB: a
    /// disk error while reading a mapped page raises SIGBUS and ends the
    /// process, where `pread` returns EIO and the read fails with
    /// `StrataError.ioError`. File systems that cannot map files read as before.
    public var allowMmapReads: Bool = false
    /// Largest accepted key, in bytes (at most `Options.keySizeLimit`).
    public var maxKeySize: Int = 64 << 10
    /// Largest accepted value, in bytes (at most `Options.valueSizeLimit`).
    public var maxValueSize: Int = 256 << 20
    /// Size past which the MANIFEST is rotated: the next version edit
    /// starts a new MANIFEST holding one snapshot of the current state
    /// (synced, then CURRENT switched to it, then the old one deleted), so
    /// the MANIFEST does not grow for the life of the process.
    public var maxManifestFileSize: UInt64 = 64 << 20
    /// Where the engine logs flushes, recoveries and errors.
    public var logger: Logger = Logger(label: "strata")
    /// The storage seam; POSIX by default.
    public var fileSystem: any FileSystem = POSIXFileSystem()
    /// Where statistics are reported through swift-metrics; nil uses
    /// `MetricsSystem.factory` as bootstrapped when the database opens
    /// (nothing is reported when that is the no-op factory).
    public var metricsFactory: (any MetricsFactory)? = nil
    /// How often counters and gauges are published to `metricsFactory`
    /// (and once more at close); zero publishes only at close.
    public var metricsPublishInterval: Duration = .seconds(10)

    /// Default options.
    public init() {}
}

/// Options for one write.
public struct WriteOptions: Sendable {
    /// Commit mode of this write; nil uses `Options.commitMode`.
    public var commitMode: CommitMode?

    /// Creates write options.
    public init(commitMode: CommitMode? = nil) {
        self.commitMode = commitMode
    }
}

/// Options for reads and iterators.
public struct ReadOptions: Sendable {
    /// Read as of this snapshot; nil reads the latest committed state.
    public var snapshot: Snapshot?
    /// Iterators stay at or above this key (inclusive).
    public var lowerBound: [UInt8]?
    /// Iterators stay below this key (exclusive).
    public var upperBound: [UInt8]?
    /// Verify block checksums on every read (on by default).
    public var verifyChecksums: Bool
    /// Put blocks read into the block cache.
    public var fillCache: Bool

    /// Creates read options.
    public init(snapshot: Snapshot? = nil, lowerBound: [UInt8]? = nil, upperBound: [UInt8]? = nil,
                verifyChecksums: Bool = true, fillCache: Bool = true) {
        self.snapshot = snapshot
        self.lowerBound = lowerBound
        self.upperBound = upperBound
        self.verifyChecksums = verifyChecksums
        self.fillCache = fillCache
    }
}
