import Foundation
import StrataMessageStore
#if canImport(Glibc)
import Glibc
#endif

/// Several broker processes on one shared store (`strata stress
/// --mode=brokers --store=URL`): `brokers` child processes (`strata
/// stress-brokers-child`) open the same store through
/// `MessageStoreConfiguration(url:).open()` — a PostgreSQL database, or an
/// SQLite file — and produce into and consume from one queue as competing
/// consumers (`SharedStoreStress.childMain`). Broker 0's first consumer
/// hangs on its second batch, holding its locks, and the parent SIGKILLs
/// broker 0 then; the others drain the queue (the dead broker's messages
/// once its locks expire). From every broker's journal and the store's
/// final contents the parent checks (`SharedStoreVerdict.judge`): no
/// message held by two live locks, the dead broker's locked messages
/// delivered to the others after expiry, no acknowledged add lost, nothing
/// completed delivered again. Each cycle uses a queue of its own.
public struct SharedStoreStress: Sendable {
    /// The store URL every broker opens (`postgresql://…` or `sqlite:PATH`).
    public var store: String
    /// The PostgreSQL tables' prefix (ignored by other backends).
    public var tablePrefix: String
    /// The `strata` executable that runs the brokers.
    public var executable: String
    /// Where the journals live (recreated).
    public var directory: String
    /// Broker processes (at least 2: one is killed).
    public var brokers = 3
    /// Messages each broker adds.
    public var messagesPerBroker = 60
    /// The queue's lock duration: how long the dead broker's messages wait.
    public var lockDuration: Duration = .seconds(2)
    /// How long the survivors may take to drain the queue after the kill.
    public var drainTimeout: Duration = .seconds(45)
    public var seed: UInt64

    public init(store: String, tablePrefix: String, executable: String, directory: String, seed: UInt64) {
        self.store = store
        self.tablePrefix = tablePrefix
        self.executable = executable
        self.directory = directory
        self.seed = seed
    }

    /// What a passed cycle saw.
    public struct Summary: Sendable, CustomStringConvertible {
        public var deliveries = 0, completes = 0, abandons = 0
        /// Locks the killed broker held at its death, and how many of them
        /// the other brokers received after expiry.
        public var orphanedLocks = 0, orphansRedelivered = 0
        public var description: String {
            "\(deliveries) deliveries, \(completes) completes, \(abandons) abandons; the killed broker held \(orphanedLocks) locks, "
                + "\(orphansRedelivered) of its messages reached the others after expiry"
        }
    }

    /// Runs `cycles` cycles, logging each one's summary; nil on success,
    /// else the first failure.
    public func run(cycles: Int = 1, log: (String) -> Void = { _ in }) async -> String? {
        for cycle in 0..<cycles {
            do {
                let summary = try await self.cycle(cycle)
                log("brokers: cycle \(cycle + 1) of \(cycles) ok — \(summary)")
            } catch let f as Failed {
                return "cycle \(cycle): \(f.reason)"
            } catch {
                return "cycle \(cycle): \(error)"
            }
        }
        return nil
    }

    struct Failed: Error { var reason: String }

    /// One cycle: start the brokers, kill broker 0 when it hangs, let the
    /// others drain, stop them and judge.
    private func cycle(_ cycle: Int) async throws -> Summary {
        guard brokers >= 2 else { throw Failed(reason: "needs at least 2 brokers (one is killed)") }
        let queue = "brokers\(seed % 100_000)c\(cycle)"
        let root = directory + "/cycle-\(cycle)"
        try? FileManager.default.removeItem(atPath: root)
        let stopFile = root + "/stop"
        for b in 0..<brokers { try FileManager.default.createDirectory(atPath: root + "/broker-\(b)", withIntermediateDirectories: true) }
        let store = try await Self.openStore(self.store, tablePrefix: tablePrefix)
        try await store.createQueue(queue, settings: QueueSettings(lockDuration: lockDuration, maxDeliveryCount: 1 << 20))

        var children: [Process] = []
        defer {
            for c in children where c.isRunning { kill(c.processIdentifier, SIGKILL) }
            for c in children { c.waitUntilExit() }
        }
        for b in 0..<brokers {
            let child = Process()
            child.executableURL = URL(fileURLWithPath: executable)
            child.arguments = ["stress-brokers-child", "--store=\(self.store)", "--table-prefix=\(tablePrefix)", "--queue=\(queue)",
                               "--journal=\(root)/broker-\(b)", "--broker=\(b)", "--messages=\(messagesPerBroker)",
                               "--seed=\(seed &+ UInt64(cycle * 31 + b))", "--stop-file=\(stopFile)"] + (b == 0 ? ["--stall"] : [])
            child.standardOutput = FileHandle.nullDevice
            do { try child.run() } catch { throw Failed(reason: "cannot start broker \(b) (\(executable)): \(error)") }
            children.append(child)
        }

        // Broker 0 hangs holding locks: kill it then.
        let deadline = ContinuousClock.now + .seconds(30)
        while SharedStoreHistory.load(directory: root + "/broker-0", broker: 0).stalls == 0 {
            if let exited = children.first(where: { !$0.isRunning }) {
                throw Failed(reason: "broker \(children.firstIndex(of: exited)!) exited with status \(exited.terminationStatus) before the kill (see its stderr)")
            }
            guard ContinuousClock.now < deadline else { throw Failed(reason: "broker 0 did not reach its second batch within 30 s") }
            try await Task.sleep(for: .milliseconds(10))
        }
        kill(children[0].processIdentifier, SIGKILL)
        children[0].waitUntilExit()

        // The others add their share and drain the queue, the dead
        // broker's locked messages included once their locks expire.
        let drainDeadline = ContinuousClock.now + drainTimeout
        var remaining: [String] = []
        while true {
            if let exited = children.dropFirst().first(where: { !$0.isRunning }) {
                throw Failed(reason: "broker \(children.firstIndex(of: exited)!) exited with status \(exited.terminationStatus) while draining (see its stderr)")
            }
            let producing = (1..<brokers).contains { SharedStoreHistory.load(directory: root + "/broker-\($0)", broker: $0).producersDone < 2 }
            remaining = try await store.pending(queue: queue, limit: 1 << 20).map(\.id)
            if !producing && remaining.isEmpty { break }
            if ContinuousClock.now >= drainDeadline { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        _ = FileManager.default.createFile(atPath: stopFile, contents: nil)
        for (b, c) in children.enumerated().dropFirst() {
            let stopBy = ContinuousClock.now + .seconds(15)
            while c.isRunning && ContinuousClock.now < stopBy { try await Task.sleep(for: .milliseconds(20)) }
            if c.isRunning { throw Failed(reason: "broker \(b) did not stop within 15 s of the stop file") }
            if c.terminationStatus != 0 { throw Failed(reason: "broker \(b) failed with status \(c.terminationStatus) (see its stderr)") }
        }
        remaining = try await store.pending(queue: queue, limit: 1 << 20).map(\.id)
        try await store.close()

        var histories: [Int: SharedStoreHistory] = [:]
        for b in 0..<brokers { histories[b] = SharedStoreHistory.load(directory: root + "/broker-\(b)", broker: b) }
        let v = SharedStoreVerdict.judge(histories, victim: 0, remaining: remaining)
        if let f = v.failure { throw Failed(reason: f) }
        // The hang guarantees the kill landed while broker 0 held locks.
        if v.orphanedLocks == 0 || v.orphansRedelivered == 0 {
            throw Failed(reason: "the killed broker held \(v.orphanedLocks) locks, \(v.orphansRedelivered) redelivered: the kill tested no lock expiry")
        }
        try? FileManager.default.removeItem(atPath: root)
        return Summary(deliveries: v.deliveries, completes: v.completes, abandons: v.abandons,
                       orphanedLocks: v.orphanedLocks, orphansRedelivered: v.orphansRedelivered)
    }
}
