import ArgumentParser
import Foundation
import StrataMessageStore

/// `strata health --store URL`: the store's `health()`, exit code 0
/// healthy, 1 warning, 2 critical (for monitoring scripts).
struct HealthCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "health",
        abstract: "Check a store: free disk, engine state, lock or connection, optionally the data (exit 0 healthy, 1 warning, 2 critical).",
        discussion: "An LSM store is opened read-only, so this works while a broker holds it. A store that cannot be opened is critical.")
    @OptionGroup var location: StoreLocation
    @Option(name: .customLong("warning-free-disk"), help: "Free bytes below which health is a warning.") var warningFreeDisk: Int64 = 1 << 30
    @Option(name: .customLong("critical-free-disk"), help: "Free bytes below which health is critical.") var criticalFreeDisk: Int64 = 100 << 20
    @Flag(help: "Also read the stored data looking for damage (takes time on a large store).") var verify = false
    @Flag(help: "Print JSON.") var json = false

    func validate() throws {
        if warningFreeDisk < 0 || criticalFreeDisk < 0 { throw ValidationError("free-disk thresholds must not be negative") }
        if criticalFreeDisk > warningFreeDisk { throw ValidationError("--critical-free-disk must not exceed --warning-free-disk") }
    }

    func run() async throws {
        let health: StoreHealth
        do {
            let store = try await location.open(readOnly: true)
            health = try await store.health(thresholds: HealthThresholds(warningFreeDiskBytes: warningFreeDisk,
                                                                         criticalFreeDiskBytes: criticalFreeDisk, verifyData: verify))
            try? await store.close()
        } catch {
            health = .critical([HealthReason(.connectionLost, .critical, "cannot open the store: \(error)")])
        }
        if json {
            struct Report: Encodable {
                var status: HealthStatus
                var reasons: [HealthReason]
            }
            let e = JSONEncoder()
            e.outputFormatting = [.sortedKeys, .prettyPrinted]
            print(String(decoding: try e.encode(Report(status: health.status, reasons: health.reasons)), as: UTF8.self))
        } else {
            print(health.status.rawValue)
            for r in health.reasons { print("  \(r.severity.rawValue): \(r)") }
        }
        if health.exitCode != 0 { throw ExitCode(health.exitCode) }
    }
}
