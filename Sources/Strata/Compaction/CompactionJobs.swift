/// The compaction jobs in flight and the rule that keeps them disjoint: a
/// plain value, so the rule is tested without threads
/// (`CompactionPickerComponentTests.compactionControlClashes`); the
/// database keeps its copy in `CompactionControl`, behind `mu`.
///
/// Disjoint means: no input file is another running job's input
/// (`busyFiles`), no two jobs write overlapping user-key ranges of the
/// same level of a family, and at most one level-0 job per family. The
/// picker consults `conflicts(_:family:)` before it hands out a job.
struct CompactionJobs {
    /// One job in flight: what it reads and where it writes.
    struct RunningJob {
        let id: Int
        let family: UInt32
        let level: Int
        let outputLevel: Int
        /// User-key range of all inputs (the outputs lie inside it).
        let smallest: [UInt8]
        let largest: [UInt8]
        let inputs: [UInt64]
    }

    /// Jobs running (with `mu` released).
    private(set) var runningJobs: [RunningJob] = []
    /// Input file numbers of the running jobs.
    private(set) var busyFiles: Set<UInt64> = []
    /// Most jobs ever running at once (for tests and statistics).
    private(set) var maxConcurrentJobs = 0
    /// Times a job started while another was running.
    private(set) var overlappingStarts = 0
    /// Times a job started with an input another running job held; the
    /// picker makes this impossible, tests check it stays 0.
    private(set) var sharedInputStarts = 0
    private var nextJobID = 0

    /// Number of jobs running now.
    var running: Int { runningJobs.count }

    /// Whether `c` (a compaction of `family`) may run beside the running
    /// jobs: none of its inputs busy, no running job writing an overlapping
    /// range of the same output level, no second level-0 job of the family.
    func conflicts(_ c: Compaction, family: UInt32) -> Bool {
        for level in c.inputs { for f in level where busyFiles.contains(f.number) { return true } }
        if runningJobs.isEmpty { return false }
        let range = c.userKeyRange
        let cmp = c.version.comparator
        for j in runningJobs where j.family == family {
            if c.level == 0 && j.level == 0 { return true }
            if j.outputLevel == c.outputLevel
                && cmp.compare(j.smallest, range.largest) <= 0 && cmp.compare(range.smallest, j.largest) <= 0 {
                return true
            }
        }
        return false
    }

    /// Records `c` as running; returns its id for `finish`.
    mutating func start(_ c: Compaction, family: UInt32) -> Int {
        let range = c.userKeyRange
        let inputs = c.inputs.flatMap { $0.map(\.number) }
        if inputs.contains(where: busyFiles.contains) { sharedInputStarts += 1 }
        if !runningJobs.isEmpty { overlappingStarts += 1 }
        nextJobID += 1
        runningJobs.append(RunningJob(id: nextJobID, family: family, level: c.level, outputLevel: c.outputLevel,
                                      smallest: range.smallest, largest: range.largest, inputs: inputs))
        busyFiles.formUnion(inputs)
        maxConcurrentJobs = max(maxConcurrentJobs, runningJobs.count)
        return nextJobID
    }

    /// Forgets the running job `id`.
    mutating func finish(_ id: Int) {
        guard let i = runningJobs.firstIndex(where: { $0.id == id }) else { return }
        busyFiles.subtract(runningJobs[i].inputs)
        runningJobs.remove(at: i)
    }
}
