import Foundation
import Strata

/// The black-box crash loop: the parent starts a child process (`strata
/// stress-child`) that runs the workers on a real database directory and
/// logs every operation to per-worker oracle files *before* issuing it and
/// its acknowledgement *after*; the parent kills the child with SIGKILL at a
/// random moment, reopens the database and checks every worker's keys: all
/// acknowledged writes present (a process kill loses nothing the OS has),
/// at most the one in-flight write more, never part of a batch.
public struct BlackBoxStress {
    public let config: StressConfig
    public let directory: String
    public let executable: String

    public init(config: StressConfig, directory: String, executable: String) {
        self.config = config
        self.directory = directory
        self.executable = executable
    }

    var dbPath: String { directory + "/db" }
    var oraclePath: String { directory + "/oracle" }

    /// Runs `cycles` kill/verify cycles; returns nil on success or the first failure.
    public func run(cycles: Int, minRunMilliseconds: Int = 50, maxRunMilliseconds: Int = 600, log: (String) -> Void = { _ in }) -> String? {
        try? FileManager.default.removeItem(atPath: directory)
        try? FileManager.default.createDirectory(atPath: oraclePath, withIntermediateDirectories: true)
        var rng = config.seed | 1
        func next() -> UInt64 { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; return rng }
        var bases: [[[UInt8]?]] = Array(repeating: Array(repeating: nil, count: config.keysPerWorker), count: config.workers)
        var backupsThatMustSurvive: Set<Int> = []
        var archivesMade = 0, archivesCut = 0
        for cycle in 0..<cycles {
            // The child starts from the state the parent verified.
            for w in 0..<config.workers { try? FileManager.default.removeItem(atPath: "\(oraclePath)/\(w)") }
            try? FileManager.default.removeItem(atPath: "\(oraclePath)/archives")
            let child = Process()
            child.executableURL = URL(fileURLWithPath: executable)
            child.arguments = ["stress-child", "--db=\(dbPath)", "--oracle=\(oraclePath)", "--workers=\(config.workers)",
                               "--keys=\(config.keysPerWorker)", "--seed=\(config.seed &+ UInt64(cycle))", "--cycle=\(cycle)",
                               "--sync-fraction=\(config.syncFraction)"]
            child.standardOutput = FileHandle.nullDevice
            do { try child.run() } catch { return "cycle \(cycle): cannot start child: \(error)" }
            let runFor = minRunMilliseconds + Int(next() % UInt64(max(1, maxRunMilliseconds - minRunMilliseconds)))
            usleep(UInt32(runFor * 1000))
            if child.isRunning { kill(child.processIdentifier, SIGKILL) }
            child.waitUntilExit()
            if child.terminationReason == .exit && child.terminationStatus != 0 {
                return "cycle \(cycle): child exited with status \(child.terminationStatus) (a worker saw wrong data or could not open the database)"
            }
            let db: Database
            var options = Options()
            options.logger.logLevel = .warning
            do { db = try Database.open(at: dbPath, options: options) } catch { return "cycle \(cycle): reopen after SIGKILL failed: \(error)" }
            defer { try? db.close() }
            var histories: [WorkerHistory] = []
            for w in 0..<config.workers {
                var h = WorkerHistory(worker: w, keysPerWorker: config.keysPerWorker, base: bases[w])
                OracleFile.load(path: "\(oraclePath)/\(w)", into: &h)
                guard let (actual, mismatch) = try? readCheckedWorkerState(db, worker: w, keysPerWorker: config.keysPerWorker) else {
                    return "cycle \(cycle): reading worker \(w)'s keys failed"
                }
                if let i = mismatch {
                    return "cycle \(cycle): worker \(w): key \(i) differs between the default and the shadow family (a cross-family batch was partly applied)"
                }
                guard let m = h.matchingPrefix(actual: actual, lowest: h.lastAcknowledged) else {
                    return "cycle \(cycle): worker \(w): state after SIGKILL matches no prefix at or after acknowledged write #\(h.lastAcknowledged) (of \(h.operations.count))"
                }
                if m > h.lastAcknowledged + 1 {
                    return "cycle \(cycle): worker \(w): database holds writes that were never issued"
                }
                bases[w] = actual
                histories.append(h)
            }
            if config.archives {
                // The checkpoints and backups the child took, some cut short by the kill.
                let archiver = Self.archiver(directory: directory, cycle: cycle, mustSurvive: backupsThatMustSurvive)
                let journal = (try? String(contentsOfFile: "\(oraclePath)/archives", encoding: .utf8)) ?? ""
                archiver.adopt(StressArchive.load(journal: Substring(journal)))
                if let f = archiver.verify(histories: histories, options: options, databasePath: dbPath) {
                    return "cycle \(cycle): \(f)"
                }
                backupsThatMustSurvive = archiver.mustSurvive
                archivesMade += archiver.archives.count
                archivesCut += archiver.archives.filter { !$0.completed }.count
            }
            if cycle % 50 == 49 { log("SIGKILL cycle \(cycle + 1) of \(cycles) ok (\(archivesMade) checkpoints and backups attempted, \(archivesCut) of them cut short by the kill)") }
        }
        return nil
    }

    /// Where the child keeps its checkpoints and backups, beside the database.
    static func archiver(directory: String, cycle: Int, mustSurvive: Set<Int>) -> StressArchiver {
        StressArchiver(checkpointRoot: directory + "/checkpoints", backupDirectory: directory + "/backups",
                       fileSystem: POSIXFileSystem(), cycle: cycle, mustSurvive: mustSurvive)
    }
}

/// The child side of the black-box loop.
public enum StressChild {
    /// Opens the database, runs the workers until killed (or `maxOperations`).
    public static func run(db path: String, oracle: String, config: StressConfig, cycle: Int, maxOperations: Int = .max) -> Int32 {
        let db: Database
        var options = Options()
        options.logger.logLevel = .warning  // the parent's output is the report
        do {
            db = try Database.open(at: path, options: options)
            try ensureShadowFamily(db)
        } catch {
            FileHandle.standardError.write(Data("stress-child: open failed: \(error)\n".utf8))
            return 4
        }
        let recorder = OracleRecorder(directory: oracle, workers: config.workers)
        // The parent's directory holds the database, the oracle and the archives.
        let archiver = BlackBoxStress.archiver(directory: (path as NSString).deletingLastPathComponent, cycle: cycle, mustSurvive: [])
        archiver.journal = { recorder.emitArchiveLine($0) }
        var workers: [StressWorker] = []
        for w in 0..<config.workers {
            // The child does not know the base state; it reads it.
            let base = (try? readWorkerState(db, worker: w, keysPerWorker: config.keysPerWorker)) ?? []
            workers.append(StressWorker(history: WorkerHistory(worker: w, keysPerWorker: config.keysPerWorker, base: base), config: config, cycle: cycle,
                                        archiver: config.archives ? archiver : nil))
        }
        archiver.progress = workers.map(\.progress)
        let group = DispatchGroup()
        for w in workers {
            group.enter()
            Thread {
                var n = 0
                w.run(db: db, recorder: recorder) { n += 1; return n > maxOperations }
                group.leave()
            }.start()
        }
        group.wait()
        if let f = workers.compactMap(\.failure).first {
            FileHandle.standardError.write(Data("stress-child: \(f)\n".utf8))
            return 3
        }
        try? db.close()
        return 0
    }
}

/// Per-worker oracle files: `P <index> <sync> <key>=<hex>|<key>=- ...` before
/// a write, `A <index>` after it returns. Written with unbuffered write(2),
/// so a SIGKILL loses nothing already written; a torn last line is ignored.
final class OracleRecorder: StressRecorder, @unchecked Sendable {
    // One descriptor per worker, each used only by its worker's thread.
    private let fds: [Int32]
    // The archive journal, written only by the archiving worker's thread.
    private let archiveFD: Int32

    init(directory: String, workers: Int) {
        fds = (0..<workers).map { open("\(directory)/\($0)", O_WRONLY | O_CREAT | O_APPEND, 0o644) }
        archiveFD = open("\(directory)/archives", O_WRONLY | O_CREAT | O_APPEND, 0o644)
    }

    private func emit(_ w: Int, _ line: String) {
        emit(fd: fds[w], line)
    }

    private func emit(fd: Int32, _ line: String) {
        var bytes = Array(line.utf8)
        bytes.append(10)
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    }

    /// Appends a line of the checkpoint and backup journal.
    func emitArchiveLine(_ line: String) {
        emit(fd: archiveFD, line)
    }

    func willWrite(worker: Int, index: Int, operation: StressOperation) {
        let changes = operation.changes.map { c in
            "\(c.key)=" + (c.value.map { $0.map { String(format: "%02x", $0) }.joined() } ?? "-")
        }.joined(separator: " ")
        emit(worker, "P \(index) \(operation.synced ? 1 : 0) \(changes)")
    }

    func acknowledged(worker: Int, index: Int) {
        emit(worker, "A \(index)")
    }
}

enum OracleFile {
    static func load(path: String, into h: inout WorkerHistory) {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else { return }
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        if !text.hasSuffix("\n") { lines.removeLast() }  // torn by the kill
        for line in lines where !line.isEmpty {
            let parts = line.split(separator: " ")
            if parts[0] == "P", parts.count >= 3, let idx = Int(parts[1]), idx == h.operations.count {
                var op = StressOperation(changes: [], synced: parts[2] == "1")
                for c in parts.dropFirst(3) {
                    let kv = c.split(separator: "=", maxSplits: 1)
                    guard kv.count == 2, let k = Int(kv[0]) else { continue }
                    if kv[1] == "-" {
                        op.changes.append((k, nil))
                    } else {
                        var bytes: [UInt8] = []
                        var i = kv[1].startIndex
                        while i < kv[1].endIndex {
                            let j = kv[1].index(i, offsetBy: 2)
                            bytes.append(UInt8(kv[1][i..<j], radix: 16) ?? 0)
                            i = j
                        }
                        op.changes.append((k, bytes))
                    }
                }
                h.operations.append(op)
            } else if parts[0] == "A", parts.count == 2, let idx = Int(parts[1]) {
                h.lastAcknowledged = idx
                if h.operations.indices.contains(idx) && h.operations[idx].synced { h.lastSyncAcknowledged = idx }
            }
        }
    }
}
