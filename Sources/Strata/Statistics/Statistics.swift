import Synchronization

/// Counters and latency histograms the engine keeps while it runs.
///
/// Every counter is an atomic and every histogram records lock-free, so the
/// engine's threads update them without waiting and users may read them at
/// any time, from any thread (`snapshot()` gathers everything at once;
/// figures read while writes are in flight may be a few operations apart).
public final class Statistics: Sendable {
    /// Levels with their own compaction counters (deeper levels share the last).
    static let trackedLevels = 8

    private let _userBytesWritten = Atomic<UInt64>(0)
    private let _walBytesWritten = Atomic<UInt64>(0)
    private let _writeBatches = Atomic<UInt64>(0)
    private let _writeGroups = Atomic<UInt64>(0)
    private let _syncedGroups = Atomic<UInt64>(0)
    private let _gets = Atomic<UInt64>(0)
    private let _flushes = Atomic<UInt64>(0)
    private let _flushBytes = Atomic<UInt64>(0)
    private let _stalls = Atomic<UInt64>(0)
    private let _stallNanoseconds = Atomic<UInt64>(0)
    private let _bloomChecked = Atomic<UInt64>(0)
    private let _bloomUseful = Atomic<UInt64>(0)
    private let _blockReads = Atomic<UInt64>(0)
    private let _blockReadBytes = Atomic<UInt64>(0)
    private let _getBlockReads = Atomic<UInt64>(0)
    private let _getBlockReadBytes = Atomic<UInt64>(0)
    private let _iterators = Atomic<UInt64>(0)
    private let _compactions: InlineArray<8, Atomic<UInt64>>
    private let _compactionBytesRead: InlineArray<8, Atomic<UInt64>>
    private let _compactionBytesWritten: InlineArray<8, Atomic<UInt64>>
    private let _compactionNanoseconds: InlineArray<8, Atomic<UInt64>>

    /// Latency of `Database.get`.
    let getLatency = AtomicHistogram()
    /// Latency of `put`, `delete` and `write` (synchronous and async).
    let writeLatency = AtomicHistogram()
    /// Latency of creating an iterator (`makeIterator`).
    let iteratorLatency = AtomicHistogram()

    /// The caches whose counters `snapshot()` reads while the database is
    /// open. Strong references (a weak one would move the caches' reference
    /// counts to a side table and slow every retain on the read path); the
    /// cycle through the table readers' `statistics` is broken at close by
    /// `detachCaches()`, which keeps the last counts.
    private let caches = Locked<CacheSources>(CacheSources())
    /// swift-metrics handles, when a metrics backend is configured.
    let metrics: MetricsReporter?

    init(metrics: MetricsReporter? = nil) {
        self.metrics = metrics
        _compactions = InlineArray { _ in Atomic(0) }
        _compactionBytesRead = InlineArray { _ in Atomic(0) }
        _compactionBytesWritten = InlineArray { _ in Atomic(0) }
        _compactionNanoseconds = InlineArray { _ in Atomic(0) }
    }

    func attach(blockCache: (any BlockCacheCounters)?, tableCache: (any TableCacheCounters)?) {
        caches.withLock {
            $0.blockCache = blockCache
            $0.tableCache = tableCache
        }
    }

    /// Keeps the caches' final counts and lets go of the caches (at close).
    func detachCaches() {
        let final = cacheFigures()
        caches.withLock {
            $0 = CacheSources()
            $0.final = final
        }
    }

    private func cacheFigures() -> CacheFigures {
        let (blockCache, tableCache, final) = caches.withLock { ($0.blockCache, $0.tableCache, $0.final) }
        var f = final
        if let blockCache {
            f.blockCacheHits = blockCache.hits
            f.blockCacheMisses = blockCache.misses
            f.blockCacheUsage = UInt64(blockCache.usage)
            f.blockCacheCapacity = UInt64(blockCache.capacity)
        }
        if let tableCache {
            f.tableCacheHits = tableCache.hits
            f.tableCacheMisses = tableCache.misses
            f.openTables = UInt64(tableCache.openCount)
        }
        return f
    }

    // MARK: reading

    /// Bytes of write batches committed by users.
    public var userBytesWritten: UInt64 { _userBytesWritten.load(ordering: .relaxed) }
    /// Bytes appended to write-ahead logs (records, fragment headers, block padding).
    public var walBytesWritten: UInt64 { _walBytesWritten.load(ordering: .relaxed) }
    /// Write batches committed.
    public var writeBatches: UInt64 { _writeBatches.load(ordering: .relaxed) }
    /// Commit groups (one log record each); batches / groups is the group-commit factor.
    public var writeGroups: UInt64 { _writeGroups.load(ordering: .relaxed) }
    /// Commit groups that ended in an fsync.
    public var syncedGroups: UInt64 { _syncedGroups.load(ordering: .relaxed) }
    /// Point lookups served.
    public var gets: UInt64 { _gets.load(ordering: .relaxed) }
    /// Memtable flushes completed.
    public var flushes: UInt64 { _flushes.load(ordering: .relaxed) }
    /// Bytes of table files written by flushes.
    public var flushBytesWritten: UInt64 { _flushBytes.load(ordering: .relaxed) }
    /// Time writers spent waiting for room (a flush or compaction to finish).
    public var stallDuration: Duration { .nanoseconds(Int64(_stallNanoseconds.load(ordering: .relaxed))) }

    /// Everything at once, including derived figures (amplification, hit rates, percentiles).
    public func snapshot() -> StatisticsSnapshot {
        var s = StatisticsSnapshot()
        s.userBytesWritten = userBytesWritten
        s.walBytesWritten = walBytesWritten
        s.writeBatches = writeBatches
        s.writeGroups = writeGroups
        s.syncedGroups = syncedGroups
        s.gets = gets
        s.flushes = flushes
        s.flushBytesWritten = flushBytesWritten
        s.stalls = _stalls.load(ordering: .relaxed)
        s.stallNanoseconds = _stallNanoseconds.load(ordering: .relaxed)
        s.bloomFilterChecked = _bloomChecked.load(ordering: .relaxed)
        s.bloomFilterUseful = _bloomUseful.load(ordering: .relaxed)
        s.blockReads = _blockReads.load(ordering: .relaxed)
        s.blockReadBytes = _blockReadBytes.load(ordering: .relaxed)
        s.getBlockReads = _getBlockReads.load(ordering: .relaxed)
        s.getBlockReadBytes = _getBlockReadBytes.load(ordering: .relaxed)
        s.iteratorsCreated = _iterators.load(ordering: .relaxed)
        for level in 0..<Self.trackedLevels {
            let l = LevelCompactionStatistics(
                level: level,
                compactions: _compactions[level].load(ordering: .relaxed),
                bytesRead: _compactionBytesRead[level].load(ordering: .relaxed),
                bytesWritten: _compactionBytesWritten[level].load(ordering: .relaxed),
                nanoseconds: _compactionNanoseconds[level].load(ordering: .relaxed))
            s.levels.append(l)
        }
        let c = cacheFigures()
        s.blockCacheHits = c.blockCacheHits
        s.blockCacheMisses = c.blockCacheMisses
        s.blockCacheUsage = c.blockCacheUsage
        s.blockCacheCapacity = c.blockCacheCapacity
        s.tableCacheHits = c.tableCacheHits
        s.tableCacheMisses = c.tableCacheMisses
        s.openTables = c.openTables
        s.getLatency = getLatency.summary()
        s.writeLatency = writeLatency.summary()
        s.iteratorCreateLatency = iteratorLatency.summary()
        return s
    }

    // MARK: recording

    func recordWrite(batches: Int, bytes: Int, synced: Bool) {
        _writeBatches.add(UInt64(batches), ordering: .relaxed)
        _writeGroups.add(1, ordering: .relaxed)
        _userBytesWritten.add(UInt64(bytes), ordering: .relaxed)
        if synced { _syncedGroups.add(1, ordering: .relaxed) }
    }

    @inline(__always)
    func recordWALBytes(_ bytes: UInt64) { _walBytesWritten.add(bytes, ordering: .relaxed) }

    @inline(__always)
    func recordGet() { _gets.add(1, ordering: .relaxed) }

    @inline(__always)
    func recordIterator() { _iterators.add(1, ordering: .relaxed) }

    func recordFlush(bytes: UInt64, duration: Duration) {
        _flushes.add(1, ordering: .relaxed)
        _flushBytes.add(bytes, ordering: .relaxed)
        metrics?.recordFlush(duration: duration)
    }

    /// A compaction finished: `bytesRead` from its input tables (all input
    /// levels), `bytesWritten` to its output tables, which went to `level`.
    func recordCompaction(bytesRead: UInt64, bytesWritten: UInt64, level: Int, duration: Duration) {
        let l = min(max(0, level), Self.trackedLevels - 1)
        _compactions[l].add(1, ordering: .relaxed)
        _compactionBytesRead[l].add(bytesRead, ordering: .relaxed)
        _compactionBytesWritten[l].add(bytesWritten, ordering: .relaxed)
        _compactionNanoseconds[l].add(duration.clampedNanoseconds, ordering: .relaxed)
        metrics?.recordCompaction(duration: duration)
    }

    func recordStall(_ d: Duration) {
        _stalls.add(1, ordering: .relaxed)
        _stallNanoseconds.add(d.clampedNanoseconds, ordering: .relaxed)
        metrics?.recordStall(duration: d)
    }

    /// A table's bloom filter was consulted for a point lookup; `useful`
    /// when it ruled the table out (saving the index and data block reads).
    @inline(__always)
    func recordBloomCheck(useful: Bool) {
        _bloomChecked.add(1, ordering: .relaxed)
        if useful { _bloomUseful.add(1, ordering: .relaxed) }
    }

    /// A data block was read from the file (not found in the block cache).
    @inline(__always)
    func recordBlockRead(bytes: Int, forGet: Bool) {
        _blockReads.add(1, ordering: .relaxed)
        _blockReadBytes.add(UInt64(bytes), ordering: .relaxed)
        if forGet {
            _getBlockReads.add(1, ordering: .relaxed)
            _getBlockReadBytes.add(UInt64(bytes), ordering: .relaxed)
        }
    }
}

/// The caches whose counters a snapshot includes, and their last counts
/// once detached.
private struct CacheSources {
    var blockCache: (any BlockCacheCounters)?
    var tableCache: (any TableCacheCounters)?
    var final = CacheFigures()
}

/// Cache counters as a snapshot reports them.
private struct CacheFigures {
    var blockCacheHits: UInt64 = 0
    var blockCacheMisses: UInt64 = 0
    var blockCacheUsage: UInt64 = 0
    var blockCacheCapacity: UInt64 = 0
    var tableCacheHits: UInt64 = 0
    var tableCacheMisses: UInt64 = 0
    var openTables: UInt64 = 0
}
