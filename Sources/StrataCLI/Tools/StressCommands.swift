import ArgumentParser
import Foundation
import StrataStress

/// Which crash test `strata stress` runs.
enum StressMode: String, ExpressibleByArgument, CaseIterable {
    /// A child process killed with SIGKILL at random moments.
    case blackbox
    /// In process, on the fault-injecting in-memory file system.
    case powerloss
    /// A broker child process on an LSM message store, killed with SIGKILL
    /// (StrataStress's MessageStoreStress).
    case messages
    /// Several broker child processes on one shared store (`--store URL`,
    /// PostgreSQL or SQLite), one killed with SIGKILL while it holds locks
    /// (StrataStress's SharedStoreStress).
    case brokers
}

/// The workload settings shared by `stress` and its child.
struct StressWorkload: ParsableArguments {
    @Option(help: "Writer threads.") var workers = 4
    @Option(help: "Keys per writer.") var keys = 200
    @Option(help: "Random seed (default: the time; printed).") var seed: UInt64?
    @Option(name: .customLong("sync-fraction"), help: "Fraction of writes that are synced (0 ... 1).") var syncFraction = 0.25

    func validate() throws {
        if workers < 1 || keys < 1 { throw ValidationError("--workers and --keys must be positive") }
        if !(0...1).contains(syncFraction) { throw ValidationError("--sync-fraction must be from 0 to 1, got \(syncFraction)") }
    }

    func config(defaultSeed: UInt64) -> StressConfig {
        var c = StressConfig()
        c.workers = workers
        c.keysPerWorker = keys
        c.seed = seed ?? defaultSeed
        c.syncFraction = syncFraction
        return c
    }
}

/// `strata stress --mode blackbox|powerloss --cycles N`
struct StressCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stress", abstract: "Crash tests in the spirit of db_stress: every acknowledged write survives every crash.")
    @Option(help: "blackbox (SIGKILL loop on a child process), powerloss (in-process, simulated power cuts), messages (SIGKILL loop on a broker child) or brokers (several broker processes on one --store, one killed).")
    var mode: StressMode = .blackbox
    @Option(help: "Crash cycles (default 100; brokers 1).") var cycles: Int?
    @Option(help: "brokers: the shared store's URL (postgresql://user@host:port/db or sqlite:PATH).") var store: String?
    @Option(help: "brokers: broker processes (at least 2; broker 0 is killed).") var brokers = 3
    @Option(help: "brokers: messages each broker adds.") var messages = 60
    @Option(name: .customLong("lock-ms"), help: "brokers: the queue's lock duration in milliseconds.") var lockMs = 2000
    @Option(name: .customLong("table-prefix"), help: "brokers: PostgreSQL table prefix (default: one of the run's own).") var tablePrefix: String?
    @Option(help: "Directory of the blackbox run (default: a temporary one, removed on success).") var dir: String?
    @Option(name: .customLong("min-ms"), help: "blackbox, messages: shortest run before a kill (default 50; messages 150).") var minMs: Int?
    @Option(name: .customLong("max-ms"), help: "blackbox, messages: longest run before a kill (default 600; messages 900).") var maxMs: Int?
    @OptionGroup var workload: StressWorkload

    func validate() throws {
        if let cycles, cycles < 1 { throw ValidationError("--cycles must be positive") }
        if mode == .brokers {
            guard let store, !store.isEmpty else { throw ValidationError("--mode=brokers needs --store=URL (postgresql://… or sqlite:PATH)") }
            if brokers < 2 { throw ValidationError("--brokers must be at least 2 (one is killed)") }
            if messages < 1 { throw ValidationError("--messages must be positive") }
            if lockMs < 100 { throw ValidationError("--lock-ms must be at least 100") }
        }
        let (lo, hi) = window
        if lo < 1 || hi < lo { throw ValidationError("--min-ms must be positive and at most --max-ms") }
    }

    /// The kill window in milliseconds, with the mode's defaults.
    private var window: (Int, Int) {
        mode == .messages ? (minMs ?? 150, maxMs ?? 900) : (minMs ?? 50, maxMs ?? 600)
    }

    /// This executable, which the loops start as their child.
    private var executable: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }

    func run() async throws {
        let config = workload.config(defaultSeed: UInt64(Date().timeIntervalSince1970))
        let cycles = self.cycles ?? (mode == .brokers ? 1 : 100)
        let start = Date()
        let failure: String?
        switch mode {
        case .blackbox:
            let dir = self.dir ?? NSTemporaryDirectory() + "strata-stress-\(getpid())"
            failure = BlackBoxStress(config: config, directory: dir, executable: executable)
                .run(cycles: cycles, minRunMilliseconds: window.0, maxRunMilliseconds: window.1) { print($0) }
            if failure == nil { try? FileManager.default.removeItem(atPath: dir) }
        case .powerloss:
            failure = PowerLossStress(config: config).run(cycles: cycles) { print($0) }
        case .messages:
            let dir = self.dir ?? NSTemporaryDirectory() + "strata-msg-stress-\(getpid())"
            failure = await MessageStoreStress(directory: dir, executable: executable, seed: config.seed)
                .run(cycles: cycles, minRunMilliseconds: window.0, maxRunMilliseconds: window.1) { print($0) }
            if failure == nil { try? FileManager.default.removeItem(atPath: dir) }
        case .brokers:
            let dir = self.dir ?? NSTemporaryDirectory() + "strata-brokers-stress-\(getpid())"
            var run = SharedStoreStress(store: store ?? "", tablePrefix: tablePrefix ?? "stress\(config.seed % 1_000_000)_",
                                        executable: executable, directory: dir, seed: config.seed)
            run.brokers = brokers
            run.messagesPerBroker = messages
            run.lockDuration = .milliseconds(lockMs)
            failure = await run.run(cycles: cycles) { print($0) }
            if failure == nil { try? FileManager.default.removeItem(atPath: dir) }
        }
        if let failure { throw CLIError("stress (\(mode.rawValue), seed \(config.seed)) FAILED: \(failure)") }
        let seconds = String(format: "%.1f", Date().timeIntervalSince(start))
        if mode == .brokers {
            print("stress brokers: \(cycles) cycles, \(brokers) broker processes, seed \(config.seed): no message under two live locks, 0 lost, 0 completed redelivered (\(seconds) s)")
        } else {
            print("stress \(mode.rawValue): \(cycles) cycles, \(config.workers) workers, seed \(config.seed): 0 lost acknowledged writes, 0 partial batches (\(seconds) s)")
        }
    }
}

/// `strata stress-brokers-child`: one broker process of `stress --mode brokers`.
struct StressBrokersChildCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stress-brokers-child", abstract: "A broker process of strata stress --mode brokers (not for direct use).",
        shouldDisplay: false)
    @Option(help: "The shared store's URL.") var store: String
    @Option(name: .customLong("table-prefix"), help: "PostgreSQL table prefix.") var tablePrefix = "strata_"
    @Option(help: "The queue.") var queue: String
    @Option(help: "The journal directory.") var journal: String
    @Option(help: "This broker's number.") var broker = 0
    @Option(help: "Messages this broker adds.") var messages = 60
    @Option(help: "Random seed.") var seed: UInt64 = 1
    @Option(name: .customLong("stop-file"), help: "Stop once this file exists.") var stopFile: String
    @Flag(help: "Hang on the second batch, holding its locks (the broker the parent kills).") var stall = false

    func run() async throws {
        OrphanWatch.start()
        throw ExitCode(await SharedStoreStress.childMain(SharedStoreStress.ChildSettings(
            store: store, tablePrefix: tablePrefix, queue: queue, journal: journal, broker: broker, messages: messages,
            seed: seed, stopFile: stopFile, stall: stall)))
    }
}

/// `strata stress-child`: the process `stress --mode blackbox` starts and kills.
struct StressChildCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stress-child", abstract: "The child process of strata stress (not for direct use).", shouldDisplay: false)
    @Option(help: "The database directory.") var db: String
    @Option(help: "The oracle file acknowledgements go to.") var oracle: String
    @Option(help: "Which cycle this is.") var cycle = 0
    @OptionGroup var workload: StressWorkload

    func run() throws {
        OrphanWatch.start()
        throw ExitCode(StressChild.run(db: db, oracle: oracle, config: workload.config(defaultSeed: 1), cycle: cycle))
    }
}

/// `strata stress-messages-child`: the broker process `stress --mode messages` starts and kills.
struct StressMessagesChildCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stress-messages-child", abstract: "The child process of strata stress --mode messages (not for direct use).",
        shouldDisplay: false)
    @Option(help: "The LSM message store directory.") var store: String
    @Option(help: "The journal directory acknowledgements go to.") var journal: String
    @Option(help: "Random seed.") var seed: UInt64 = 1
    @Option(help: "Which cycle this is.") var cycle = 0

    func run() async throws {
        OrphanWatch.start()
        throw ExitCode(await MessageStoreStress.childMain(store: store, journal: journal, seed: seed, cycle: cycle))
    }
}
