import ArgumentParser
import Foundation
import Strata

/// `--db PATH` of the engine commands: an LSM database directory.
struct DatabaseLocation: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The database directory.", valueName: "path"), completion: .directory)
    var db: String

    /// Opens the database for reading only (`Database.openReadOnly`): no
    /// LOCK, never writes, works while another process has it open.
    func openForReading() throws -> Database {
        try failingSync("cannot open \(db)") { try Database.openReadOnly(at: db, options: Self.quietOptions()) }
    }

    /// Opens the existing database for reading and writing (takes the LOCK).
    func openForWriting() throws -> Database {
        try failingSync("cannot open \(db)") {
            var o = Self.quietOptions()
            o.createIfMissing = false
            return try Database.open(at: db, options: o)
        }
    }

    /// Engine options whose routine logs stay quiet: a command prints its own result.
    static func quietOptions() -> Options {
        var o = Options()
        o.logger.logLevel = .warning
        return o
    }
}

/// A non-empty key or value given on the command line.
struct NonEmptyText: ExpressibleByArgument {
    let text: String
    init?(argument: String) {
        guard !argument.isEmpty else { return nil }
        text = argument
    }
    static var defaultCompletionKind: CompletionKind { .default }
}
