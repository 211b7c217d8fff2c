/// How due a level is for compaction: the one formula behind the picker's
/// choice, the write-stall estimate and `strata.stats`' Score column.
///
/// Level 0 = file count / `level0FileNumCompactionTrigger` (which
/// `Options.validated()` has already lowered to the slowdown or stop
/// trigger when either is smaller); level L >= 1 = bytes at L / target(L),
/// target(1) = `maxBytesForLevelBase`, target(L+1) = target(L) ×
/// `levelSizeMultiplier`. A score of 1 or more means due.
struct CompactionScore: Sendable {
    let level0Trigger: Int
    let levelBase: Double
    let multiplier: Double

    /// `options` must be validated (every field in range, see `Options.validated()`).
    init(options: Options) {
        level0Trigger = options.level0FileNumCompactionTrigger
        levelBase = Double(options.maxBytesForLevelBase)
        multiplier = options.levelSizeMultiplier
    }

    /// Target size of level `level` (>= 1).
    func maxBytes(forLevel level: Int) -> Double {
        var bytes = levelBase
        if level > 1 {
            for _ in 1..<level { bytes *= multiplier }
        }
        return bytes
    }

    /// The score of `level` holding `fileCount` files of `bytes` bytes in all.
    func score(level: Int, fileCount: Int, bytes: UInt64) -> Double {
        if level == 0 { return Double(fileCount) / Double(level0Trigger) }
        return Double(bytes) / maxBytes(forLevel: level)
    }

    /// The score of `level` of `v`.
    func score(_ v: Version, level: Int) -> Double {
        score(level: level, fileCount: v.files[level].count, bytes: v.levelSize(level))
    }
}
