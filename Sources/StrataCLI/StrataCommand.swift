import ArgumentParser
import Foundation

/// The `strata` command: engine maintenance on an LSM directory (`--db`),
/// operations on a message store of any backend (`--store URL`), benchmarks
/// and crash tests. Each subcommand is one `ParsableCommand`.
@main
struct StrataCommand: AsyncParsableCommand {
    /// The version `strata --version` prints.
    static let version = "0.15.0"

    static let configuration = CommandConfiguration(
        commandName: "strata",
        abstract: "Strata storage engine and message store tool.",
        discussion: """
            Engine commands take --db PATH (an LSM directory). Store commands find their store as a broker \
            does (MessageStoreConfiguration): --store URL (lsm:PATH, sqlite:PATH, json:DIR, \
            postgresql://user@host:port/db[?table_prefix=P], memory:), else --db PATH (an LSM store), else \
            STRATA_STORE; --config FILE and the other STRATA_* variables add their settings. Commands that only \
            read (stats, get, scan, verify, dump-manifest, queues, storage stats, storage export, snapshot list, \
            health) open an LSM directory read-only, so they work while a broker holds it; get --wait, \
            stats --follow, storage stats --follow and queues --follow catch up with the writer as they go. Exit codes: 0 success, 1 failure, 64 usage error.
            """,
        version: version,
        subcommands: [
            // Engine (an LSM directory)
            StatsCommand.self, GetCommand.self, PutCommand.self, DeleteCommand.self, ScanCommand.self,
            CompactCommand.self, VerifyCommand.self, CheckpointCommand.self, BackupCommand.self, DumpManifestCommand.self,
            // Message stores (any backend)
            StorageCommand.self, QueuesCommand.self, SnapshotCommand.self, HealthCommand.self,
            // Tools
            BenchCommand.self, StressCommand.self, StressChildCommand.self, StressMessagesChildCommand.self, StressBrokersChildCommand.self,
            StressEventsChildCommand.self, DemoCommand.self,
        ]
    )

    /// Parses and runs, turning every error into one line on stderr and an
    /// exit code (64 for a usage error) instead of ArgumentParser's
    /// multi-line report.
    static func main() async {
        let arguments = Self.splittingEmptyValues(BenchCommand.normalizingBareBooleans(Array(CommandLine.arguments.dropFirst())))
        do {
            var command = try parseAsRoot(arguments)
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            Foundation.exit(Self.report(error))
        }
    }

    /// `--name=` (an empty value) becomes `--name ""`: ArgumentParser reads
    /// `--name=` as a missing value, and `put --value=` must store an empty
    /// value. Arguments after `--` are left alone.
    static func splittingEmptyValues(_ arguments: [String]) -> [String] {
        var out: [String] = []
        var optionsEnded = false
        for a in arguments {
            if a == "--" { optionsEnded = true }
            if !optionsEnded && a.hasPrefix("--") && a.hasSuffix("=") && a.count > 3 && a.firstIndex(of: "=") == a.index(before: a.endIndex) {
                out += [String(a.dropLast()), ""]
            } else {
                out.append(a)
            }
        }
        return out
    }

    /// Prints `error` (help and version requests to stdout, everything else
    /// as one line on stderr) and returns the exit code.
    static func report(_ error: any Error) -> Int32 {
        if let code = error as? ExitCode { return code.rawValue }
        if let e = error as? CLIError {
            printError(e.message)
            return e.exitCode
        }
        let code = exitCode(for: error)
        if code == .success {
            print(fullMessage(for: error))
            return 0
        }
        if code == .validationFailure {
            // ArgumentParser's message, first line, without its "Error: " prefix.
            let text = message(for: error)
            let first = text.split(separator: "\n").first.map(String.init) ?? text
            printError((first.hasPrefix("Error: ") ? String(first.dropFirst(7)) : first) + " (see --help)")
            return code.rawValue
        }
        printError("\(error)")
        return code.rawValue == 0 ? 1 : code.rawValue
    }
}

/// Writes `strata: <message>` as one line on stderr.
func printError(_ message: String) {
    let line = message.replacingOccurrences(of: "\n", with: "; ")
    FileHandle.standardError.write(Data("strata: \(line)\n".utf8))
}
