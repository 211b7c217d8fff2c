/// Decides what to compact next (leveled compaction).
///
/// Scores: `CompactionScore` (level 0 by file count, deeper levels by size
/// against their target). The last level has no score (nothing is below
/// it). The highest score >= 1 is compacted.
///
/// Level 0 → 1 takes the oldest level-0 file and every level-0 file that
/// overlaps it, transitively, so no level-0 file left behind overlaps what
/// moves down (level 0 stays ordered by age for every key). Deeper levels
/// take one file, round robin: `compactPointers[L]` remembers the largest
/// user key of the last file compacted at L, and the next pick is the first
/// file after it. The pointers live in memory only; after a reopen the round
/// robin starts again at each level's first file, which costs nothing but
/// evenness. With several compaction threads, candidates that conflict with
/// a running job (see `CompactionJobs.conflicts`) are skipped.
///
/// Not thread-safe: the database calls it with `mu` held. `options` must be
/// validated (`Options.validated()`).
final class CompactionPicker {
    private let options: Options
    /// The score formula (shared with `strata.stats`).
    let score: CompactionScore
    private var compactPointers: [[UInt8]?] = Array(repeating: nil, count: Version.numLevels)

    init(options: Options) {
        self.options = options
        self.score = CompactionScore(options: options)
    }

    /// Target size of level `level` (>= 1).
    func maxBytes(forLevel level: Int) -> Double { score.maxBytes(forLevel: level) }

    /// Score of every level that can be compacted (0 ..< numLevels - 1).
    func scores(_ v: Version) -> [Double] {
        (0..<(Version.numLevels - 1)).map { score.score(v, level: $0) }
    }

    /// Bytes that compaction still has to move down for every level to be
    /// within its target: all of level 0 once it reaches its trigger, plus
    /// each deeper level's excess over its target. Drives write stalls.
    func pendingCompactionBytes(_ v: Version) -> UInt64 {
        var total: UInt64 = 0
        if v.files[0].count >= options.level0FileNumCompactionTrigger { total += v.levelSize(0) }
        for level in 1..<(Version.numLevels - 1) {
            let size = Double(v.levelSize(level))
            let target = maxBytes(forLevel: level)
            if size > target { total += UInt64(size - target) }
        }
        return total
    }

    /// The compaction the level scores call for, or nil when every level
    /// is within its target. Levels are tried by descending score; a
    /// candidate that `conflicts` with a running job is passed over for the
    /// next file of the level (round robin), then for the next level, so a
    /// thread never waits on a level whose candidates are all busy while
    /// another level has work.
    func pickAutomatic(_ v: Version, conflicts: (Compaction) -> Bool = { _ in false }) -> Compaction? {
        let s = scores(v)
        let levels = s.indices.filter { s[$0] >= 1 }.sorted { s[$0] > s[$1] }
        for level in levels {
            if level == 0 {
                guard let oldest = v.files[0].last else { continue }
                let c = makeCompaction(v, level: 0, start: widenLevel0([oldest], in: v), isManual: false)
                if !conflicts(c) { return c }
                continue
            }
            let files = v.files[level]
            guard !files.isEmpty else { continue }
            var first = 0
            if let pointer = compactPointers[level] {
                let after = pointer.withUnsafeBytes { p in files.firstIndex { $0.compareToSmallest(p, v.keyOrder) < 0 } }
                if let after { first = after }
            }
            for step in 0..<files.count {
                let c = makeCompaction(v, level: level, start: [files[(first + step) % files.count]], isManual: false)
                if conflicts(c) { continue }
                // Round robin: the next automatic pick at this level starts after this file.
                compactPointers[level] = Compaction.userKeyRange(of: c.inputs[0], v.comparator).largest
                return c
            }
        }
        return nil
    }

    /// A compaction of the files at `level` overlapping [begin, end] (nil
    /// ends are open) into `level + 1`. At levels >= 1 it stops adding
    /// input files once they exceed `maxInputBytes` (at least one is taken);
    /// `more` then says the range holds further files at `level`, starting
    /// after the returned compaction's largest input key.
    ///
    /// With `inPlace`, the files at `level` (>= 1) are rewritten at the same
    /// level: a contiguous run of them, so the outputs cannot overlap a
    /// file left out; `resumeAfter` skips files starting at or before it.
    func pickManual(_ v: Version, level: Int, begin: [UInt8]?, end: [UInt8]?, maxInputBytes: UInt64,
                    inPlace: Bool = false, resumeAfter: [UInt8]? = nil) -> (Compaction, more: Bool)? {
        precondition(level >= 0 && level < Version.numLevels - (inPlace ? 0 : 1))
        precondition(!inPlace || level >= 1)
        var start = v.overlappingFiles(level: level, smallestUserKey: begin, largestUserKey: end)
        if inPlace, let after = resumeAfter {
            // Files written by the previous piece hold `after`; skip them.
            start = after.withUnsafeBytes { a in Array(start.drop { $0.compareToSmallest(a, v.keyOrder) >= 0 }) }
        }
        guard !start.isEmpty else { return nil }
        var more = false
        if level == 0 {
            start = widenLevel0(start, in: v)
        } else {
            var total: UInt64 = 0
            for (i, f) in start.enumerated() {
                total += f.size
                if total >= maxInputBytes && i + 1 < start.count {
                    start = Array(start[...i])
                    more = true
                    break
                }
            }
        }
        if inPlace {
            var grandparents: [FileMetaData] = []
            if level + 1 < Version.numLevels {
                let range = Compaction.userKeyRange(of: start, v.comparator)
                grandparents = v.overlappingFiles(level: level + 1, smallestUserKey: range.smallest, largestUserKey: range.largest)
            }
            let c = Compaction(version: v, level: level, outputLevel: level, inputs: [start, []],
                               grandparents: grandparents, options: options, isManual: true)
            return (c, more)
        }
        return (makeCompaction(v, level: level, start: start, isManual: true), more)
    }

    /// Adds every level-0 file overlapping the files' range until the set
    /// stops growing.
    private func widenLevel0(_ files: [FileMetaData], in v: Version) -> [FileMetaData] {
        var set = files
        while true {
            let range = Compaction.userKeyRange(of: set, v.comparator)
            let wider = v.overlappingFiles(level: 0, smallestUserKey: range.smallest, largestUserKey: range.largest)
            if wider.count == set.count { return wider }
            set = wider
        }
    }

    private func makeCompaction(_ v: Version, level: Int, start: [FileMetaData], isManual: Bool) -> Compaction {
        let range = Compaction.userKeyRange(of: start, v.comparator)
        let next = v.overlappingFiles(level: level + 1, smallestUserKey: range.smallest, largestUserKey: range.largest)
        let all = Compaction.userKeyRange(of: start + next, v.comparator)
        var grandparents: [FileMetaData] = []
        if level + 2 < Version.numLevels {
            grandparents = v.overlappingFiles(level: level + 2, smallestUserKey: all.smallest, largestUserKey: all.largest)
        }
        return Compaction(version: v, level: level, outputLevel: level + 1, inputs: [start, next], grandparents: grandparents,
                          options: options, isManual: isManual)
    }
}
