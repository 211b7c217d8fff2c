import Foundation
import StrataMessageStore
#if canImport(Glibc)
import Glibc
#endif

/// The message-store crash loop (`strata stress --mode=messages`): a broker
/// child process (`strata stress-messages-child`) runs on one LSM store
/// (`.syncDurable`) — 4 producers adding single messages and batches of 5,
/// 3 consumers receiving 8 at a time under a 1 s lock, completing three
/// batches in four and abandoning the fourth — and journals every call
/// before issuing it and after it returns (`MessageStoreJournal`). The
/// parent SIGKILLs it 0.15–0.9 s after start, reopens the store and checks,
/// order-insensitively over the journals of every cycle so far:
/// - every message whose add returned (or that a reopen showed once) and
///   whose complete never returned is still stored, with its own payload;
/// - nothing whose complete returned comes back, nor an add that a reopen
///   showed absent;
/// - nothing unknown appears, and no unacknowledged batch is partly stored;
/// - `pending` (which scans over the range tombstones of acknowledged
///   prefixes) and `get` (the id index) agree.
/// The child uses a small range-delete interval, so heads are recorded and
/// rebuilt after every restart, and locks held at the kill expire across it.
public struct MessageStoreStress: Sendable {
    /// Where the store and the journals live (recreated by `run`).
    public let directory: String
    /// The `strata` executable that runs the child.
    public let executable: String
    /// Seeds the kill times and the child's choices.
    public let seed: UInt64

    /// A loop in `directory`, started through `executable`.
    public init(directory: String, executable: String, seed: UInt64) {
        self.directory = directory
        self.executable = executable
        self.seed = seed
    }

    static let queue = "stress"
    var storePath: String { directory + "/store" }
    var journalPath: String { directory + "/journal" }

    /// Options of the store in the parent and the child.
    static func storeOptions() -> MessageStoreOptions {
        var o = MessageStoreOptions()
        o.commitMode = .syncDurable
        o.rangeDeleteInterval = 64
        o.logger.logLevel = .error
        o.engine.logger.logLevel = .error
        o.engine.writeBufferSize = 256 << 10  // flushes (and compactions) while it runs
        return o
    }

    /// What the parent knows across cycles.
    struct Model {
        /// Ids that must be stored.
        var required: [String: Int] = [:]  // id → cycle it became required
        /// Ids that must never be stored again.
        var forbidden: Set<String> = []
        /// Every id a producer ever intended.
        var known: Set<String> = []
        var completed = 0, abandoned = 0, received = 0
    }

    /// Runs `cycles` kill/check cycles; nil on success, else the first failure.
    public func run(cycles: Int, minRunMilliseconds: Int = 150, maxRunMilliseconds: Int = 900,
                    log: (String) -> Void = { _ in }) async -> String? {
        try? FileManager.default.removeItem(atPath: directory)
        try? FileManager.default.createDirectory(atPath: journalPath, withIntermediateDirectories: true)
        var rng = seed | 1
        func next() -> UInt64 { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; return rng }
        var model = Model()
        for cycle in 0..<cycles {
            let cycleJournal = journalPath + "/\(cycle)"
            try? FileManager.default.createDirectory(atPath: cycleJournal, withIntermediateDirectories: true)
            let child = Process()
            child.executableURL = URL(fileURLWithPath: executable)
            child.arguments = ["stress-messages-child", "--store=\(storePath)", "--journal=\(cycleJournal)",
                               "--seed=\(seed &+ UInt64(cycle))", "--cycle=\(cycle)"]
            child.standardOutput = FileHandle.nullDevice
            do { try child.run() } catch { return "cycle \(cycle): cannot start child: \(error)" }
            let runFor = minRunMilliseconds + Int(next() % UInt64(max(1, maxRunMilliseconds - minRunMilliseconds)))
            try? await Task.sleep(for: .milliseconds(runFor))
            if child.isRunning { kill(child.processIdentifier, SIGKILL) }
            child.waitUntilExit()
            if child.terminationReason == .exit {
                return "cycle \(cycle): child exited with status \(child.terminationStatus) before the kill (see its stderr)"
            }
            if let failure = await check(cycle: cycle, journal: cycleJournal, model: &model) { return "cycle \(cycle): \(failure)" }
            try? FileManager.default.removeItem(atPath: cycleJournal)
            if cycle % 50 == 49 || cycle == cycles - 1 {
                log("messages: cycle \(cycle + 1) of \(cycles) ok — \(model.required.count) stored, \(model.forbidden.count) gone for good, "
                    + "\(model.received) receives, \(model.completed) completes and \(model.abandoned) abandons acknowledged so far")
            }
        }
        return nil
    }

    /// Reopens the store after a kill and checks it against the journals.
    func check(cycle: Int, journal: String, model: inout Model) async -> String? {
        let log = MessageStoreCycleLog.load(directory: journal)
        let store: LSMMessageStore
        do { store = try await LSMMessageStore.open(at: storePath, options: Self.storeOptions()) } catch {
            return "reopen after SIGKILL failed: \(error)"
        }
        let failure = await check(store, cycle: cycle, log: log, model: &model)
        do { try await store.close() } catch { return failure ?? "closing the store after the check failed: \(error)" }
        return failure
    }

    private func check(_ store: LSMMessageStore, cycle: Int, log: MessageStoreCycleLog, model: inout Model) async -> String? {
        do {
            let listed = try await store.pending(queue: Self.queue, limit: Int(Int32.max))
            var stored: [String: [UInt8]] = [:]
            for m in listed {
                guard stored.updateValue(m.payload, forKey: m.id) == nil else { return "pending lists \(m.id) twice" }
            }
            model.known.formUnion(log.intended)
            for id in stored.keys where !model.known.contains(id) { return "unknown message \(id) is stored" }
            for (id, payload) in stored where payload != Array(id.utf8) { return "message \(id) has another message's payload" }
            // This cycle's completes: returned ones are gone for good; one in
            // flight at the kill is whatever the reopen shows, from now on.
            for id in log.completed { model.required[id] = nil; model.forbidden.insert(id) }
            for id in log.completeAttempts.keys where log.completeInFlight(id) {
                if stored[id] == nil { model.required[id] = nil; model.forbidden.insert(id) }
            }
            // This cycle's adds: returned ones must be stored; one in flight
            // at the kill is whatever the reopen shows, from now on.
            for id in log.added where !model.forbidden.contains(id) { model.required[id] = model.required[id] ?? cycle }
            for id in log.intended.subtracting(log.added) where !model.forbidden.contains(id) {
                if stored[id] != nil { model.required[id] = model.required[id] ?? cycle } else if !log.completed.contains(id) { model.forbidden.insert(id) }
            }
            for batch in log.unacknowledgedBatches where batch.allSatisfy({ log.completeAttempts[$0] == nil && !log.received.contains($0) }) {
                let present = batch.filter { stored[$0] != nil }.count
                if present != 0 && present != batch.count { return "batch \(batch) is partly stored (\(present) of \(batch.count))" }
            }
            for (id, since) in model.required where stored[id] == nil {
                return "message \(id), stored since cycle \(since) and never completed, is missing"
            }
            for id in model.forbidden where stored[id] != nil { return "message \(id) came back (completed, or its add was lost)" }
            for id in stored.keys where model.required[id] == nil { return "message \(id) is stored but the model holds it absent" }
            // The id index agrees with the scan, for this cycle's ids.
            for id in log.intended.union(log.completed) {
                let got = try await store.get(id: id)
                if (got != nil) != (stored[id] != nil) { return "get(\(id)) and pending disagree (get: \(got != nil), pending: \(stored[id] != nil))" }
            }
            model.received += log.received.count
            model.completed += log.completed.count
            model.abandoned += log.abandoned
        } catch {
            return "reading the store after SIGKILL failed: \(error)"
        }
        return nil
    }
}
