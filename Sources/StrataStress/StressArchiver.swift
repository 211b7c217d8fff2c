import Strata
import Synchronization

/// How far one worker has got: the index of its newest acknowledged write,
/// published after the write returns so another thread may read it.
public final class StressProgress: Sendable {
    private let value = Atomic<Int>(-1)

    /// No write acknowledged yet.
    public init() {}

    /// Index of the worker's newest acknowledged write (-1: none yet).
    public var acknowledged: Int { value.load(ordering: .acquiring) }

    func publish(_ index: Int) { value.store(index, ordering: .releasing) }
}

/// A checkpoint or backup taken during a stress cycle, with what it must
/// hold: for each worker, every write acknowledged before it was started.
public struct StressArchive: Sendable {
    /// Checkpoint path, or nil for a backup.
    public var checkpointPath: String? = nil
    /// The backup id the attempt gets if it completes (nil for a checkpoint).
    public var backupID: Int? = nil
    /// Per worker: index of its newest write acknowledged before the call.
    public var lowest: [Int]
    /// Whether the call returned successfully.
    public var completed = false
    /// Whether a purge of older backups followed (it may remove any but the
    /// newest two).
    public var purged = false
}

extension StressArchive {
    /// Reads the attempts a journal recorded (lines `A <n> C <path> <lowest>...`
    /// or `A <n> B <id> <lowest>...` before, `D <n>` after, `P <n>` before
    /// a purge that follows backup n); a torn last
    /// line is ignored.
    public static func load(journal text: Substring) -> [StressArchive] {
        var out: [StressArchive] = []
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        if !text.hasSuffix("\n") { lines.removeLast() }
        for line in lines {
            let f = line.split(separator: " ")
            if f.count >= 4, f[0] == "A", Int(f[1]) == out.count {
                var a = StressArchive(lowest: f.dropFirst(4).compactMap { Int($0) })
                if f[2] == "C" { a.checkpointPath = String(f[3]) } else { a.backupID = Int(f[3]) }
                out.append(a)
            } else if f.count == 2, f[0] == "D", let i = Int(f[1]), out.indices.contains(i) {
                out[i].completed = true
            } else if f.count == 2, f[0] == "P", let i = Int(f[1]), out.indices.contains(i) {
                out[i].purged = true
            }
        }
        return out
    }
}

/// Takes checkpoints and backups of the database in the middle of a stress
/// cycle (called from one worker's thread, racing the others' writes), so a
/// crash can hit them half-way, and remembers what each must contain.
///
/// Used by one worker thread during the run and by the driver after the
/// workers joined, never by both at once.
public final class StressArchiver: @unchecked Sendable {
    /// Folder holding this cycle's checkpoints (`ckpt-<cycle>-<n>`).
    public let checkpointRoot: String
    /// The backup engine's directory (kept across cycles).
    public let backupDirectory: String
    private let fileSystem: any FileSystem
    private let cycle: Int
    /// Every worker's progress, set before the workers start.
    public var progress: [StressProgress] = []
    /// This cycle's attempts, in order.
    public private(set) var archives: [StressArchive] = []
    /// Backups whose creation returned and which no purge may have removed:
    /// they must survive any crash. Carried from cycle to cycle.
    public var mustSurvive: Set<Int>

    /// An archiver for one cycle; `mustSurvive` comes from the previous one.
    public init(checkpointRoot: String, backupDirectory: String, fileSystem: any FileSystem, cycle: Int, mustSurvive: Set<Int>) {
        self.checkpointRoot = checkpointRoot
        self.backupDirectory = backupDirectory
        self.fileSystem = fileSystem
        self.cycle = cycle
        self.mustSurvive = mustSurvive
    }

    /// Receives one line per attempt before it starts and one when it
    /// completes (the black-box child appends them to its oracle, so the
    /// parent knows what each copy must hold; see `StressArchive.load`).
    public var journal: ((String) -> Void)?

    /// Takes over attempts recorded elsewhere (by the killed child), and
    /// which backups must therefore survive.
    public func adopt(_ recorded: [StressArchive]) {
        archives = recorded
        for a in recorded {
            if a.completed, let id = a.backupID { mustSurvive.insert(id) }
            if a.purged { mustSurvive = Set(mustSurvive.sorted().suffix(2)) }
        }
    }

    private func begin(_ a: StressArchive) {
        archives.append(a)
        let what = a.checkpointPath.map { "C \($0)" } ?? "B \(a.backupID ?? 0)"
        journal?("A \(archives.count - 1) \(what) " + a.lowest.map(String.init).joined(separator: " "))
    }

    private func complete() {
        archives[archives.count - 1].completed = true
        journal?("D \(archives.count - 1)")
    }

    /// Takes a checkpoint (even `choice`) or a backup (odd), and after some
    /// backups purges all but the newest two. Throws what the engine throws
    /// (normally the simulated crash).
    func archive(_ db: Database, choice: UInt64) throws {
        let lowest = progress.map(\.acknowledged)
        if choice % 2 == 0 {
            try fileSystem.createDirectory(at: checkpointRoot)
            let path = "\(checkpointRoot)/ckpt-\(cycle)-\(archives.count)"
            begin(StressArchive(checkpointPath: path, lowest: lowest))
            try db.createCheckpoint(at: path)
        } else {
            let engine = try BackupEngine(directory: backupDirectory, fileSystem: fileSystem)
            let expected = (try engine.backups().last?.id ?? 0) + 1
            begin(StressArchive(backupID: expected, lowest: lowest))
            let info = try engine.createBackup(of: db)
            guard info.id == expected else {
                throw StrataError(.corruption, "backup got id \(info.id), expected \(expected)")
            }
            mustSurvive.insert(info.id)
            if choice % 8 == 1 {
                // A purge may be cut short by the crash: only the newest two
                // are sure to survive it.
                mustSurvive = Set(mustSurvive.sorted().suffix(2))
                complete()
                archives[archives.count - 1].purged = true
                journal?("P \(archives.count - 1)")
                try engine.purgeOldBackups(keeping: 2)
                return
            }
        }
        complete()
    }

    /// After the crash and reopen: every checkpoint that exists opens and
    /// holds, per worker, a prefix of its writes covering every write
    /// acknowledged before the checkpoint started; every listed backup
    /// verifies, every backup that must survive is listed, and the newest
    /// backup of this cycle restores to such a prefix. Removes this cycle's
    /// checkpoints, restores and the leftovers of backups the crash cut
    /// short next to `databasePath`. Returns the first failure.
    public func verify(histories: [WorkerHistory], options: Options, databasePath: String) -> String? {
        do {
            for a in archives {
                guard let path = a.checkpointPath else { continue }
                guard fileSystem.fileExists(at: path) else {
                    if a.completed { return "checkpoint \(path) was created but is gone after the crash" }
                    continue
                }
                if let f = Self.checkPrefixes(at: path, options: options, histories: histories, lowest: a.lowest) {
                    return "checkpoint \(path): \(f)"
                }
            }
            try removeLeftovers(of: databasePath)
            // The backup directory changes only when this cycle backed up
            // (a power loss cannot touch synced files): check it then.
            guard archives.contains(where: { $0.backupID != nil }) else { return nil }
            let engine = try BackupEngine(directory: backupDirectory, fileSystem: fileSystem)
            let listed = try engine.backups().map(\.id)
            for id in listed {
                do { try engine.verifyBackup(id) } catch { return "backup \(id) no longer verifies: \(error)" }
            }
            if let lost = mustSurvive.subtracting(listed).min() {
                return "backup \(lost) was created but is gone after the crash (listed: \(listed))"
            }
            if let newest = archives.last(where: { $0.backupID.map(listed.contains) ?? false }), let id = newest.backupID {
                let target = "\(checkpointRoot)/restored-\(cycle)"
                try fileSystem.createDirectory(at: checkpointRoot)
                try engine.restore(id, to: target)
                if let f = Self.checkPrefixes(at: target, options: options, histories: histories, lowest: newest.lowest) {
                    return "backup \(id) restored: \(f)"
                }
                try removeTree(checkpointRoot, fs: fileSystem)
            }
            // Keep the backup directory small over thousands of cycles.
            try engine.purgeOldBackups(keeping: 3)
            mustSurvive = Set(try engine.backups().map(\.id))
        } catch {
            return "checking checkpoints and backups failed: \(error)"
        }
        return nil
    }

    /// Removes this cycle's checkpoints and restores, and what backups cut
    /// short by the crash left next to the database.
    private func removeLeftovers(of databasePath: String) throws {
        try removeTree(checkpointRoot, fs: fileSystem)
        let slash = databasePath.lastIndex(of: "/")!
        let parent = slash == databasePath.startIndex ? "/" : String(databasePath[..<slash])
        let prefix = databasePath[databasePath.index(after: slash)...] + ".backup-"
        for name in try fileSystem.listDirectory(at: parent) where name.hasPrefix(prefix) {
            try removeTree(parent == "/" ? "/" + name : parent + "/" + name, fs: fileSystem)
        }
    }

    /// Opens the database copy at `path` and checks every worker's keys.
    static func checkPrefixes(at path: String, options: Options, histories: [WorkerHistory], lowest: [Int]) -> String? {
        let copy: Database
        do { copy = try Database.open(at: path, options: options) } catch { return "does not open: \(error)" }
        defer { try? copy.close() }
        for h in histories {
            guard let (actual, mismatch) = try? readCheckedWorkerState(copy, worker: h.worker, keysPerWorker: h.keysPerWorker) else {
                return "reading worker \(h.worker)'s keys failed"
            }
            if let i = mismatch {
                return "worker \(h.worker): key \(i) differs between the default and the shadow family"
            }
            let floor = h.worker < lowest.count ? lowest[h.worker] : -1
            guard h.matchingPrefix(actual: actual, lowest: floor) != nil else {
                return "worker \(h.worker): no prefix of its writes at or after write #\(floor), acknowledged before the copy started (of \(h.operations.count))"
            }
        }
        return nil
    }
}

/// Removes `path` and everything under it, if it exists.
func removeTree(_ path: String, fs: any FileSystem) throws {
    guard fs.fileExists(at: path) else { return }
    guard fs.isDirectory(at: path) else { return try fs.removeFile(at: path) }
    for name in try fs.listDirectory(at: path) { try removeTree(path + "/" + name, fs: fs) }
    try fs.removeDirectory(at: path)
}
