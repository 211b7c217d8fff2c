import ArgumentParser
import Foundation
import StrataStress

/// Which crash test `strata stress` runs.
enum StressMode: String, ExpressibleByArgument, CaseIterable {
    /// A child process killed with SIGKILL at random moments.
    case blackbox
    /// In process, on the fault-injecting in-memory file system.
    case powerloss
    // `messages` (a broker child process on a message store, StrataStress's
    // MessageStoreStress) joins here: a case, and a branch in
    // StressCommand.run and StressChildCommand.run.
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
struct StressCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stress", abstract: "Crash tests in the spirit of db_stress: every acknowledged write survives every crash.")
    @Option(help: "blackbox (SIGKILL loop on a child process) or powerloss (in-process, simulated power cuts).") var mode: StressMode = .blackbox
    @Option(help: "Crash cycles.") var cycles = 100
    @Option(help: "Directory of the blackbox run (default: a temporary one, removed on success).") var dir: String?
    @Option(name: .customLong("min-ms"), help: "blackbox: shortest run before a kill.") var minMs = 50
    @Option(name: .customLong("max-ms"), help: "blackbox: longest run before a kill.") var maxMs = 600
    @OptionGroup var workload: StressWorkload

    func validate() throws {
        if cycles < 1 { throw ValidationError("--cycles must be positive") }
        if minMs < 1 || maxMs < minMs { throw ValidationError("--min-ms must be positive and at most --max-ms") }
    }

    func run() throws {
        let config = workload.config(defaultSeed: UInt64(Date().timeIntervalSince1970))
        let start = Date()
        let failure: String?
        switch mode {
        case .blackbox:
            let dir = self.dir ?? NSTemporaryDirectory() + "strata-stress-\(getpid())"
            let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
            failure = BlackBoxStress(config: config, directory: dir, executable: exe)
                .run(cycles: cycles, minRunMilliseconds: minMs, maxRunMilliseconds: maxMs) { print($0) }
            if failure == nil { try? FileManager.default.removeItem(atPath: dir) }
        case .powerloss:
            failure = PowerLossStress(config: config).run(cycles: cycles) { print($0) }
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
