import Foundation
import StrataStress

/// `strata stress`: crash tests in the spirit of db_stress.
///   --mode=blackbox   child process killed with SIGKILL at random moments (--dir=PATH)
///   --mode=powerloss  in-process, on the fault-injecting in-memory file system
///   --mode=messages   a broker child on an LSM message store, SIGKILLed (--dir=PATH, --min-ms, --max-ms)
///   --cycles=N --workers=N --keys=N --seed=N --sync-fraction=F
func runStress(_ args: [String]) async {
    let flags = parseFlags(args, allowed: ["mode", "cycles", "workers", "keys", "seed", "dir", "sync-fraction", "min-ms", "max-ms"])
    var config = StressConfig()
    config.workers = flags["workers"].flatMap { Int($0) } ?? 4
    config.keysPerWorker = flags["keys"].flatMap { Int($0) } ?? 200
    config.seed = flags["seed"].flatMap { UInt64($0) } ?? UInt64(Date().timeIntervalSince1970)
    config.syncFraction = flags["sync-fraction"].flatMap { Double($0) } ?? 0.25
    let cycles = flags["cycles"].flatMap { Int($0) } ?? 100
    guard config.workers > 0, config.keysPerWorker > 0, cycles > 0 else { fail("--workers, --keys and --cycles must be positive", code: 2) }
    let mode = flags["mode"] ?? "blackbox"
    let start = Date()
    let failure: String?
    switch mode {
    case "blackbox":
        let dir = flags["dir"] ?? NSTemporaryDirectory() + "strata-stress-\(getpid())"
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        failure = BlackBoxStress(config: config, directory: dir, executable: exe)
            .run(cycles: cycles, minRunMilliseconds: flags["min-ms"].flatMap { Int($0) } ?? 50,
                 maxRunMilliseconds: flags["max-ms"].flatMap { Int($0) } ?? 600) { print($0) }
        if failure == nil { try? FileManager.default.removeItem(atPath: dir) }
    case "powerloss":
        failure = PowerLossStress(config: config).run(cycles: cycles) { print($0) }
    case "messages":  // the broker crash loop of the message store (Sources/StrataStress/Messages)
        let dir = flags["dir"] ?? NSTemporaryDirectory() + "strata-msg-stress-\(getpid())"
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        failure = await MessageStoreStress(directory: dir, executable: exe, seed: config.seed)
            .run(cycles: cycles, minRunMilliseconds: flags["min-ms"].flatMap { Int($0) } ?? 150,
                 maxRunMilliseconds: flags["max-ms"].flatMap { Int($0) } ?? 900) { print($0) }
        if failure == nil { try? FileManager.default.removeItem(atPath: dir) }
    default:
        fail("--mode must be blackbox, powerloss or messages", code: 2)
    }
    let seconds = Date().timeIntervalSince(start)
    if let failure {
        fail("stress (\(mode), seed \(config.seed)) FAILED: \(failure)")
    }
    print("stress \(mode): \(cycles) cycles, \(config.workers) workers, seed \(config.seed): 0 lost acknowledged writes, 0 partial batches (\(String(format: "%.1f", seconds)) s)")
}

func runStressChild(_ args: [String]) -> Never {
    let flags = parseFlags(args, allowed: ["db", "oracle", "workers", "keys", "seed", "cycle", "sync-fraction"])
    var config = StressConfig()
    config.workers = flags["workers"].flatMap { Int($0) } ?? 4
    config.keysPerWorker = flags["keys"].flatMap { Int($0) } ?? 200
    config.seed = flags["seed"].flatMap { UInt64($0) } ?? 1
    config.syncFraction = flags["sync-fraction"].flatMap { Double($0) } ?? 0.25
    guard let db = flags["db"], let oracle = flags["oracle"] else { fail("--db and --oracle are required", code: 2) }
    exit(StressChild.run(db: db, oracle: oracle, config: config, cycle: flags["cycle"].flatMap { Int($0) } ?? 0))
}
