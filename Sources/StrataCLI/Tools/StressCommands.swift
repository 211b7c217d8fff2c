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
    @Option(help: "blackbox (SIGKILL loop on a child process), powerloss (in-process, simulated power cuts) or messages (SIGKILL loop on a broker child).")
    var mode: StressMode = .blackbox
    @Option(help: "Crash cycles.") var cycles = 100
    @Option(help: "Directory of the blackbox run (default: a temporary one, removed on success).") var dir: String?
    @Option(name: .customLong("min-ms"), help: "blackbox, messages: shortest run before a kill (default 50; messages 150).") var minMs: Int?
    @Option(name: .customLong("max-ms"), help: "blackbox, messages: longest run before a kill (default 600; messages 900).") var maxMs: Int?
    @OptionGroup var workload: StressWorkload

    func validate() throws {
        if cycles < 1 { throw ValidationError("--cycles must be positive") }
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
        }
        if let failure { throw CLIError("stress (\(mode.rawValue), seed \(config.seed)) FAILED: \(failure)") }
        print("stress \(mode.rawValue): \(cycles) cycles, \(config.workers) workers, seed \(config.seed): 0 lost acknowledged writes, 0 partial batches (\(String(format: "%.1f", Date().timeIntervalSince(start))) s)")
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
        throw ExitCode(await MessageStoreStress.childMain(store: store, journal: journal, seed: seed, cycle: cycle))
    }
}
