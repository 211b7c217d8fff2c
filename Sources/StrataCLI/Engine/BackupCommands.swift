import ArgumentParser
import Foundation
import Strata

/// `strata backup create|list|verify|restore|delete|purge --dir BACKUPS`
struct BackupCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup", abstract: "Incremental backups of an LSM database (table files shared between backups).",
        subcommands: [Create.self, List.self, Verify.self, Restore.self, Delete.self, Purge.self])

    /// `--dir` of every backup command.
    struct Directory: ParsableArguments {
        @Option(help: ArgumentHelp("The backup directory.", valueName: "path"), completion: .directory) var dir: String

        /// The engine over an existing directory (only `create` makes one).
        func engine(creating: Bool = false) throws -> BackupEngine {
            if !creating && !FileManager.default.fileExists(atPath: dir) { throw CLIError("no backup directory at \(dir)") }
            return try failingSync("cannot open backups at \(dir)") { try BackupEngine(directory: dir) }
        }
    }

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Back up a database (creates the backup directory if missing).")
        @OptionGroup var location: DatabaseLocation
        @OptionGroup var backups: Directory
        @OptionGroup var progress: ProgressOptions

        func run() throws {
            let engine = try backups.engine(creating: true)
            let db = try location.openForWriting()
            defer { try? db.close() }
            let bar = progress.reporter("backing up", unit: "bytes")
            let info = try failingSync("backup create") { try engine.createBackup(of: db) { bar.update($0, of: $1) } }
            bar.finish()
            print("created \(info)")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List backups: id, time, size, file count.")
        @OptionGroup var backups: Directory
        func run() throws {
            for b in try failingSync("backup list", { try backups.engine().backups() }) { print(b) }
        }
    }

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Check the checksum of every file of one backup (--id) or of all.")
        @OptionGroup var backups: Directory
        @Option(help: "The backup to check (default: every backup).") var id: Int?
        @OptionGroup var progress: ProgressOptions

        func run() throws {
            let engine = try backups.engine()
            let ids = try id.map { [$0] } ?? failingSync("backup verify") { try engine.backups().map(\.id) }
            let bar = progress.reporter("verifying", unit: "backups")
            for (i, id) in ids.enumerated() {
                try failingSync("backup verify \(id)") { try engine.verifyBackup(id) }
                bar.update(UInt64(i + 1), of: UInt64(ids.count))
                print("backup \(id): ok")
            }
            bar.finish()
        }
    }

    struct Restore: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Restore a backup into a directory (verified while copied).")
        @OptionGroup var backups: Directory
        @Option(help: "The backup to restore.") var id: Int
        @Option(help: ArgumentHelp("The target directory.", valueName: "path"), completion: .directory) var to: String
        @Flag(help: "Replace what is at the target.") var overwrite = false
        @OptionGroup var progress: ProgressOptions

        func run() throws {
            let engine = try backups.engine()
            try failingSync("backup restore") {
                try withElapsedProgress(progress.reporter("restoring", unit: "")) { [to, overwrite, id] in
                    try engine.restore(id, to: to, overwrite: overwrite)
                }
            }
            print("restored backup \(id) to \(to)")
        }
    }

    struct Delete: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete one backup (files other backups share stay).")
        @OptionGroup var backups: Directory
        @Option(help: "The backup to delete.") var id: Int
        func run() throws {
            try failingSync("backup delete") { try backups.engine().deleteBackup(id) }
            print("deleted backup \(id)")
        }
    }

    struct Purge: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete all but the newest --keep backups.")
        @OptionGroup var backups: Directory
        @Option(help: "How many of the newest backups to keep (at least 1).") var keep: Int
        func validate() throws {
            if keep < 1 { throw ValidationError("--keep must be at least 1, got \(keep)") }
        }
        func run() throws {
            try failingSync("backup purge") { try backups.engine().purgeOldBackups(keeping: keep) }
            print("kept the newest \(keep) backups")
        }
    }
}
