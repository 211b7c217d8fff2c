/// `Options.validated()`: every database option checked, and every clamp
/// applied, in one place (LevelDB's `SanitizeOptions`). The engine works
/// only with the result, so no other code clamps an option.
extension Options {
    /// Largest `maxKeySize`: a memtable entry stores the internal key (user
    /// key plus 8 bytes of sequence and kind) with a 32-bit length.
    public static let keySizeLimit = Int(UInt32.max) - 8
    /// Largest `maxValueSize`: a memtable entry stores the value with a 32-bit length.
    public static let valueSizeLimit = Int(UInt32.max)

    /// The options the engine runs with: throws `.invalidArgument` naming
    /// the option for a value it cannot use, and applies the documented clamps:
    ///
    /// - `maxBackgroundCompactions` below 1 becomes 1;
    /// - `memtableBloomSizeRatio` is clamped to 0 ... 0.25;
    /// - `level0FileNumCompactionTrigger` is lowered to the slowdown or stop
    ///   trigger when either is smaller, so writers stopped at level 0 always
    ///   have a compaction coming (the compaction score, `strata.stats` and
    ///   pending-bytes estimate all use the lowered trigger);
    /// - a non-zero `metricsPublishInterval` below 1 ms becomes 1 ms;
    /// - `maxOpenFiles` turns into the table cache's bound here
    ///   (`tableCacheCapacity`), not in the cache.
    ///
    /// Errors: `writeBufferSize`, `blockRestartInterval`, `maxKeySize`,
    /// `targetFileSizeBase`, `maxBytesForLevelBase`, `maxManifestFileSize`
    /// and the three level-0 triggers below 1; `blockSize` outside
    /// 1 ... 2^30; `bloomBitsPerKey` outside 0 ... 1000;
    /// `levelSizeMultiplier` below 1 or not finite; `maxKeySize` above
    /// `keySizeLimit`; `maxValueSize` negative or above `valueSizeLimit`;
    /// negative `blockCacheCapacity` or `metricsPublishInterval`; a
    /// comparator with an unusable name. The default family's options are
    /// these database-wide ones and are checked like any family's.
    public func validated() throws -> Options {
        var o = self
        func invalid(_ message: String) -> StrataError { StrataError(.invalidArgument, "Options.\(message)") }
        try ColumnFamilyOptions(databaseOptions: o).validateNamingDatabaseOptions()
        try validateComparators()
        guard o.blockRestartInterval >= 1 else { throw invalid("blockRestartInterval \(o.blockRestartInterval) must be at least 1") }
        guard o.blockCacheCapacity >= 0 else { throw invalid("blockCacheCapacity \(o.blockCacheCapacity) must not be negative") }
        guard o.maxKeySize >= 1 && o.maxKeySize <= Self.keySizeLimit else {
            throw invalid("maxKeySize \(o.maxKeySize) is out of range (1 ... \(Self.keySizeLimit))")
        }
        guard o.maxValueSize >= 0 && o.maxValueSize <= Self.valueSizeLimit else {
            throw invalid("maxValueSize \(o.maxValueSize) is out of range (0 ... \(Self.valueSizeLimit))")
        }
        for (name, value) in [("level0FileNumCompactionTrigger", o.level0FileNumCompactionTrigger),
                              ("level0SlowdownWritesTrigger", o.level0SlowdownWritesTrigger),
                              ("level0StopWritesTrigger", o.level0StopWritesTrigger)] where value < 1 {
            throw invalid("\(name) \(value) must be at least 1")
        }
        guard o.maxBytesForLevelBase >= 1 else { throw invalid("maxBytesForLevelBase must be at least 1") }
        guard o.levelSizeMultiplier.isFinite && o.levelSizeMultiplier >= 1 else {
            throw invalid("levelSizeMultiplier \(o.levelSizeMultiplier) must be finite and at least 1")
        }
        guard o.targetFileSizeBase >= 1 else { throw invalid("targetFileSizeBase must be at least 1") }
        guard o.maxManifestFileSize >= 1 else { throw invalid("maxManifestFileSize must be at least 1") }
        guard !o.memtableBloomSizeRatio.isNaN else { throw invalid("memtableBloomSizeRatio is not a number") }
        guard o.metricsPublishInterval >= .zero else { throw invalid("metricsPublishInterval \(o.metricsPublishInterval) must not be negative") }

        o.maxBackgroundCompactions = max(1, o.maxBackgroundCompactions)
        o.memtableBloomSizeRatio = min(max(o.memtableBloomSizeRatio, 0), 0.25)
        o.level0FileNumCompactionTrigger = min(o.level0FileNumCompactionTrigger, o.level0SlowdownWritesTrigger,
                                               o.level0StopWritesTrigger)
        if o.metricsPublishInterval > .zero && o.metricsPublishInterval < .milliseconds(1) {
            o.metricsPublishInterval = .milliseconds(1)
        }
        return o
    }
}

extension Options {
    /// Descriptors kept out of the table cache's budget: live log, MANIFEST,
    /// LOCK, directory syncs, a table being written.
    static let reservedFiles = 10

    /// Table readers the table cache holds: `maxOpenFiles` less
    /// `reservedFiles`, at least 1; nil (unbounded) when `maxOpenFiles` is 0
    /// or negative. The one place `maxOpenFiles` is interpreted.
    var tableCacheCapacity: Int? {
        maxOpenFiles <= 0 ? nil : max(1, maxOpenFiles - Self.reservedFiles)
    }
}

extension Options {
    /// Key filter bytes for a memtable whose write buffer is
    /// `writeBufferSize` bytes: `memtableBloomSizeRatio` of it, 0 when the
    /// ratio is 0, else at least one 64-byte line. The ratio is the one
    /// `validated()` clamped to 0 ... 0.25, so nothing here clamps it again;
    /// a ratio that is not above 0 (NaN included) means no filter.
    func memtableKeyFilterBytes(writeBufferSize: Int) -> Int {
        guard memtableBloomSizeRatio > 0 else { return 0 }
        return max(64, Int(Double(writeBufferSize) * memtableBloomSizeRatio))
    }
}

extension ColumnFamilyOptions {
    /// `validate()` for the default family, whose options are the
    /// database's: the error names the `Options` field.
    func validateNamingDatabaseOptions() throws {
        do {
            try validate()
        } catch let e as StrataError where e.kind == .invalidArgument {
            throw StrataError(.invalidArgument, "Options.\(e.message) (the default column family's options)")
        }
    }
}
