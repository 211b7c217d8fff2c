/// Compaction counters of one output level.
public struct LevelCompactionStatistics: Sendable, Equatable {
    /// The level compactions wrote into.
    public var level: Int
    /// Compactions that wrote into this level.
    public var compactions: UInt64
    /// Bytes those compactions read (from every input level).
    public var bytesRead: UInt64
    /// Bytes those compactions wrote into this level.
    public var bytesWritten: UInt64
    /// Time those compactions took.
    public var nanoseconds: UInt64
}

/// Everything `Statistics` knows at one moment, plus derived figures.
public struct StatisticsSnapshot: Sendable {
    /// Bytes of write batches committed by users.
    public var userBytesWritten: UInt64 = 0
    /// Bytes appended to write-ahead logs.
    public var walBytesWritten: UInt64 = 0
    /// Write batches committed.
    public var writeBatches: UInt64 = 0
    /// Commit groups (one log record each).
    public var writeGroups: UInt64 = 0
    /// Commit groups that ended in an fsync.
    public var syncedGroups: UInt64 = 0
    /// Point lookups served.
    public var gets: UInt64 = 0
    /// Iterators created.
    public var iteratorsCreated: UInt64 = 0
    /// Memtable flushes completed.
    public var flushes: UInt64 = 0
    /// Bytes of level-0 tables written by flushes.
    public var flushBytesWritten: UInt64 = 0
    /// Times a writer had to wait for room.
    public var stalls: UInt64 = 0
    /// Total time writers waited for room.
    public var stallNanoseconds: UInt64 = 0
    /// Table bloom filters consulted by point lookups.
    public var bloomFilterChecked: UInt64 = 0
    /// Of those, the checks that ruled a table out.
    public var bloomFilterUseful: UInt64 = 0
    /// Data blocks read from table files (block cache misses that went to disk), by any reader.
    public var blockReads: UInt64 = 0
    /// Bytes of those blocks as stored (before decompression).
    public var blockReadBytes: UInt64 = 0
    /// Data blocks read from table files by point lookups.
    public var getBlockReads: UInt64 = 0
    /// Bytes of the blocks read by point lookups.
    public var getBlockReadBytes: UInt64 = 0
    /// Block cache lookups that hit.
    public var blockCacheHits: UInt64 = 0
    /// Block cache lookups that missed.
    public var blockCacheMisses: UInt64 = 0
    /// Bytes held by the block cache.
    public var blockCacheUsage: UInt64 = 0
    /// Capacity of the block cache in bytes.
    public var blockCacheCapacity: UInt64 = 0
    /// Table reader lookups answered by an open reader.
    public var tableCacheHits: UInt64 = 0
    /// Table reader lookups that had to open the file.
    public var tableCacheMisses: UInt64 = 0
    /// Table files open in the table cache.
    public var openTables: UInt64 = 0
    /// Compaction counters by output level.
    public var levels: [LevelCompactionStatistics] = []
    /// Latency of point lookups.
    public var getLatency = LatencySummary(count: 0, sumNanoseconds: 0, p50Nanoseconds: 0, p95Nanoseconds: 0, p99Nanoseconds: 0, maxNanoseconds: 0)
    /// Latency of writes (`put`, `delete`, `write`).
    public var writeLatency = LatencySummary(count: 0, sumNanoseconds: 0, p50Nanoseconds: 0, p95Nanoseconds: 0, p99Nanoseconds: 0, maxNanoseconds: 0)
    /// Latency of creating an iterator.
    public var iteratorCreateLatency = LatencySummary(count: 0, sumNanoseconds: 0, p50Nanoseconds: 0, p95Nanoseconds: 0, p99Nanoseconds: 0, maxNanoseconds: 0)

    /// Creates an empty snapshot.
    public init() {}

    /// Bytes compactions wrote, over all levels.
    public var compactionBytesWritten: UInt64 { levels.reduce(0) { $0 + $1.bytesWritten } }
    /// Bytes compactions read, over all levels.
    public var compactionBytesRead: UInt64 { levels.reduce(0) { $0 + $1.bytesRead } }
    /// Compactions completed, over all levels.
    public var compactions: UInt64 { levels.reduce(0) { $0 + $1.compactions } }

    /// (WAL + flush + compaction bytes written) / user bytes written; 0 before any write.
    public var writeAmplification: Double {
        userBytesWritten == 0 ? 0
            : Double(walBytesWritten + flushBytesWritten + compactionBytesWritten) / Double(userBytesWritten)
    }

    /// Table data blocks read from disk per point lookup; 0 before any lookup.
    public var readAmplification: Double { gets == 0 ? 0 : Double(getBlockReads) / Double(gets) }

    /// Bytes read from table files per point lookup.
    public var bytesReadPerGet: Double { gets == 0 ? 0 : Double(getBlockReadBytes) / Double(gets) }

    /// Fraction of block cache lookups that hit; 0 before any lookup.
    public var blockCacheHitRate: Double { Self.rate(blockCacheHits, blockCacheMisses) }

    /// Fraction of table cache lookups that hit; 0 before any lookup.
    public var tableCacheHitRate: Double { Self.rate(tableCacheHits, tableCacheMisses) }

    /// Fraction of bloom filter checks that ruled a table out.
    public var bloomFilterUsefulRate: Double {
        bloomFilterChecked == 0 ? 0 : Double(bloomFilterUseful) / Double(bloomFilterChecked)
    }

    private static func rate(_ hits: UInt64, _ misses: UInt64) -> Double {
        hits + misses == 0 ? 0 : Double(hits) / Double(hits + misses)
    }
}
