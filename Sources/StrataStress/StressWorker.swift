import Foundation
import Strata

/// Settings of a stress run.
public struct StressConfig: Sendable {
    public var workers = 4
    public var keysPerWorker = 200
    /// Share of writes made with `.syncDurable` (the rest `.asyncDurable`).
    public var syncFraction = 0.25
    public var seed: UInt64 = 1
    /// Compaction threads of the database under test.
    public var maxBackgroundCompactions = 1
    /// Whether worker 2 takes checkpoints and backups during the run.
    public var archives = true
    public init() {}
}

/// Receives a worker's history events as they happen (the black-box child
/// writes them to its oracle file).
public protocol StressRecorder: Sendable {
    func willWrite(worker: Int, index: Int, operation: StressOperation)
    func acknowledged(worker: Int, index: Int)
}

/// A recorder that records nothing (the in-process mode keeps histories in memory).
public struct NoRecorder: StressRecorder {
    public init() {}
    public func willWrite(worker: Int, index: Int, operation: StressOperation) {}
    public func acknowledged(worker: Int, index: Int) {}
}

/// Random operations of one worker on its own keys: batches of puts,
/// deletes and range deletes (mirrored into the shadow family) in both
/// commit modes, reads and scans checked
/// against the worker's exact expected state, snapshot reads, flushes,
/// range compactions, and (worker 2, given an archiver) checkpoints and
/// backups.
public final class StressWorker: @unchecked Sendable {
    // Used by one thread only (the worker's own); read by the driver after join.
    public var history: WorkerHistory
    public private(set) var failure: String?
    /// The error that ended the worker, if one did (normally the crash).
    public private(set) var lastError: String?
    private var rng: UInt64
    private var current: [[UInt8]?]
    private let config: StressConfig
    private let cycle: Int
    private let archiver: StressArchiver?
    /// The newest acknowledged write, readable from other threads.
    public let progress = StressProgress()

    public init(history: WorkerHistory, config: StressConfig, cycle: Int, archiver: StressArchiver? = nil) {
        self.history = history
        self.archiver = archiver
        self.config = config
        self.cycle = cycle
        self.current = history.base
        self.rng = (config.seed &* 0x9E37_79B9_7F4A_7C15) ^ UInt64(history.worker &* 7919 &+ cycle &* 104_729) | 1
    }

    private func next() -> UInt64 {
        rng ^= rng << 13
        rng ^= rng >> 7
        rng ^= rng << 17
        return rng
    }

    private func key(_ i: Int) -> [UInt8] { WorkerHistory.key(worker: history.worker, index: i) }

    /// Runs until `shouldStop` returns true or a call fails (a crash makes
    /// every call fail). A failed write ends the worker without error: it is
    /// what a crash looks like. A read returning wrong data is a failure.
    public func run(db: Database, recorder: any StressRecorder, shouldStop: () -> Bool) {
        let w = history.worker
        // Every batch is mirrored into the "shadow" family, so a batch partly
        // applied across families shows up as the two families disagreeing.
        let shadow = db.columnFamily(shadowFamilyName)
        while !shouldStop() {
            let r = next() % 100
            do {
                switch r {
                case 0..<70:
                    var batch = WriteBatch()
                    var op = StressOperation(changes: [], synced: Double(next() % 1000) / 1000 < config.syncFraction)
                    for _ in 0..<(1 + Int(next() % 4)) {
                        let k = Int(next() % UInt64(config.keysPerWorker))
                        if next() % 12 == 0 {
                            // A range delete over some of this worker's keys
                            // (keys sort in index order, and never into
                            // another worker's set).
                            let hi = min(config.keysPerWorker, k + 1 + Int(next() % 30))
                            batch.deleteRange(from: key(k), to: key(hi))
                            batch.deleteRange(from: key(k), to: key(hi), in: shadow)
                            for i in k..<hi { op.changes.append((i, nil)) }
                        } else if next() % 5 == 0 {
                            batch.delete(key(k))
                            batch.delete(key(k), in: shadow)
                            op.changes.append((k, nil))
                        } else {
                            let v = Array("c\(cycle)-w\(w)-o\(history.operations.count)-k\(k)".utf8)
                            batch.put(key(k), v)
                            batch.put(key(k), v, in: shadow)
                            op.changes.append((k, v))
                        }
                    }
                    let index = history.operations.count
                    history.operations.append(op)
                    recorder.willWrite(worker: w, index: index, operation: op)
                    try db.write(batch, options: WriteOptions(commitMode: op.synced ? .syncDurable : .asyncDurable(groupWindow: .milliseconds(50))))
                    history.lastAcknowledged = index
                    progress.publish(index)
                    if op.synced { history.lastSyncAcknowledged = index }
                    for c in op.changes { current[c.key] = c.value }
                    recorder.acknowledged(worker: w, index: index)
                case 70..<85:
                    let k = Int(next() % UInt64(config.keysPerWorker))
                    let got = try db.get(key(k))
                    if got != current[k] { return fail("get \(String(decoding: key(k), as: UTF8.self)) returned a wrong value") }
                case 85..<92:
                    let lo = Int(next() % UInt64(config.keysPerWorker))
                    let hi = min(config.keysPerWorker, lo + 1 + Int(next() % 50))
                    let it = try db.makeIterator(options: ReadOptions(lowerBound: key(lo), upperBound: key(hi)))
                    var expected: [([UInt8], [UInt8])] = []
                    for i in lo..<hi { if let v = current[i] { expected.append((key(i), v)) } }
                    var got: [([UInt8], [UInt8])] = []
                    if next() % 2 == 0 {
                        it.seekToFirst()
                        while it.isValid { got.append((it.key, it.value)); it.next() }
                    } else {
                        it.seekToLast()
                        while it.isValid { got.append((it.key, it.value)); it.prev() }
                        got.reverse()
                    }
                    try it.checkStatus()
                    if got.map(\.0) != expected.map(\.0) || got.map(\.1) != expected.map(\.1) {
                        return fail("scan of keys \(lo)..<\(hi) differs from the expected state")
                    }
                case 92..<98:
                    let snap = db.snapshot()
                    let k = Int(next() % UInt64(config.keysPerWorker))
                    let before = current[k]
                    var b = WriteBatch()
                    b.delete(key(k))
                    b.delete(key(k), in: shadow)
                    let index = history.operations.count
                    let op = StressOperation(changes: [(k, nil)], synced: false)
                    history.operations.append(op)
                    recorder.willWrite(worker: w, index: index, operation: op)
                    try db.write(b, options: WriteOptions(commitMode: .asyncDurable(groupWindow: .milliseconds(50))))
                    history.lastAcknowledged = index
                    progress.publish(index)
                    current[k] = nil
                    recorder.acknowledged(worker: w, index: index)
                    if try db.get(key(k), options: ReadOptions(snapshot: snap)) != before {
                        return fail("snapshot read changed after a later delete")
                    }
                default:
                    if w == 0 {
                        try db.flush()
                    } else if w == 1 {
                        // Compaction of this worker's range, racing the others' writes.
                        let lo = Int(next() % UInt64(config.keysPerWorker))
                        try db.compactRange(key(lo), key(min(config.keysPerWorker - 1, lo + 40)))
                    } else if w == 2, let archiver, next() % 4 == 0 {
                        try archiver.archive(db, choice: next())
                    }
                }
            } catch {
                lastError = "\(error)"
                return  // a crash (or an injected fault) ends the worker
            }
        }
    }

    private func fail(_ message: String) {
        failure = "worker \(history.worker): \(message)"
    }
}
