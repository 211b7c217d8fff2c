import Foundation
import Strata
import Synchronization

/// The in-process crash loop: the engine runs on an in-memory
/// `FaultInjectionFileSystem`; each cycle runs the workers, crashes the file
/// system at a random moment (mid-write, mid-flush, mid-MANIFEST update...),
/// simulates a power loss (optionally with torn writes), reopens and checks
/// every worker's keys against the oracle: every write acknowledged with
/// `.syncDurable` is there, and each worker's state is a prefix of its writes.
public struct PowerLossStress {
    public let config: StressConfig
    public init(config: StressConfig) { self.config = config }

    /// Runs `cycles` cycles; returns nil on success or the first failure.
    public func run(cycles: Int, log: (String) -> Void = { _ in }) -> String? {
        let fs = FaultInjectionFileSystem(seed: config.seed | 1)
        var options = Options()
        options.fileSystem = fs
        options.writeBufferSize = 32 << 10
        options.maxBackgroundCompactions = config.maxBackgroundCompactions
        options.logger.logLevel = .critical
        var rng = config.seed | 1
        func next() -> UInt64 { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; return rng }

        var bases: [[[UInt8]?]] = Array(repeating: Array(repeating: nil, count: config.keysPerWorker), count: config.workers)
        var acknowledgedTotal = 0
        var backupsThatMustSurvive: Set<Int> = []
        var archivesMade = 0
        var archivesCut = 0
        for cycle in 0..<cycles {
            let db: Database
            do {
                db = try Database.open(at: "/stress", options: options)
                try ensureShadowFamily(db)
            } catch { return "cycle \(cycle): open failed: \(error)" }
            // Checkpoints and backups taken mid-cycle, so the crash can cut them short.
            let archiver = StressArchiver(checkpointRoot: "/stress-checkpoints", backupDirectory: "/stress-backups",
                                          fileSystem: fs, cycle: cycle, mustSurvive: backupsThatMustSurvive)
            let workers = (0..<config.workers).map {
                StressWorker(history: WorkerHistory(worker: $0, keysPerWorker: config.keysPerWorker, base: bases[$0]), config: config, cycle: cycle,
                             archiver: config.archives ? archiver : nil)
            }
            archiver.progress = workers.map(\.progress)
            let crashAfter = Int(next() % 400)
            let ops = Atomic<Int>(0)
            let group = DispatchGroup()
            for w in workers {
                group.enter()
                Thread {
                    w.run(db: db, recorder: NoRecorder()) {
                        let n = ops.add(1, ordering: .relaxed).newValue
                        if n == crashAfter { fs.crash() }
                        return n > crashAfter
                    }
                    group.leave()
                }.start()
            }
            group.wait()
            if let e = workers.compactMap(\.lastError).first(where: { !$0.contains("simulated crash") }) {
                return "cycle \(cycle): a worker failed before the crash: \(e)"
            }
            acknowledgedTotal += workers.reduce(0) { $0 + $1.history.lastAcknowledged + 1 }
            fs.crash()
            try? db.close()
            do { try fs.simulatePowerLoss(tornWrites: next() % 2 == 0) } catch { return "cycle \(cycle): power loss simulation failed: \(error)" }
            if let f = workers.compactMap(\.failure).first { return "cycle \(cycle): \(f)" }

            let reopened: Database
            do { reopened = try Database.open(at: "/stress", options: options) } catch { return "cycle \(cycle): reopen failed: \(error)" }
            for w in workers {
                let h = w.history
                guard let (actual, mismatch) = try? readCheckedWorkerState(reopened, worker: h.worker, keysPerWorker: h.keysPerWorker) else {
                    return "cycle \(cycle): reading worker \(h.worker)'s keys failed"
                }
                if let i = mismatch {
                    return "cycle \(cycle): worker \(h.worker): key \(i) differs between the default and the shadow family (a cross-family batch was partly applied)"
                }
                guard h.matchingPrefix(actual: actual, lowest: h.lastSyncAcknowledged) != nil else {
                    return "cycle \(cycle): worker \(h.worker): recovered state is no prefix of its writes at or after its last synced write #\(h.lastSyncAcknowledged) (of \(h.operations.count))"
                }
                bases[h.worker] = actual
            }
            try? reopened.close()
            if let f = archiver.verify(histories: workers.map(\.history), options: options, databasePath: "/stress") {
                return "cycle \(cycle): \(f)"
            }
            archivesMade += archiver.archives.count
            archivesCut += archiver.archives.filter { !$0.completed }.count
            backupsThatMustSurvive = archiver.mustSurvive
            if cycle % 100 == 99 { log("power-loss cycle \(cycle + 1) of \(cycles) ok (\(acknowledgedTotal) writes acknowledged, \(archivesMade) checkpoints and backups attempted, \(archivesCut) of them cut short by the crash)") }
        }
        return nil
    }
}
