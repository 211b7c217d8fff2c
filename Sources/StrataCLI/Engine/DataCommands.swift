import ArgumentParser
import Foundation
import Strata

/// `strata get --db PATH --key K`
struct GetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "get", abstract: "Print the value of a key (read-only open: works on a live database).")
    @OptionGroup var location: DatabaseLocation
    @Option(help: "The key (text).") var key: String

    func run() throws {
        let db = try location.openForReading()
        defer { try? db.close() }
        guard let v = try failingSync("get", { try db.get(Array(key.utf8)) }) else { throw CLIError("key not found: \(key)") }
        print(display(v))
    }
}

/// `strata put --db PATH --key K --value V`
struct PutCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "put", abstract: "Set a key to a value (synced to disk before it returns).")
    @OptionGroup var location: DatabaseLocation
    @Option(help: "The key (text, not empty).") var key: NonEmptyText
    @Option(help: "The value (text; --value= stores an empty value).") var value: String

    func run() throws {
        let db = try location.openForWriting()
        defer { try? db.close() }
        try failingSync("put") { try db.put(Array(key.text.utf8), Array(value.utf8), options: WriteOptions(commitMode: .syncDurable)) }
    }
}

/// `strata delete --db PATH --key K`
struct DeleteCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete", abstract: "Remove a key (no error when it is absent).")
    @OptionGroup var location: DatabaseLocation
    @Option(help: "The key (text, not empty).") var key: NonEmptyText

    func run() throws {
        let db = try location.openForWriting()
        defer { try? db.close() }
        try failingSync("delete") { try db.delete(Array(key.text.utf8), options: WriteOptions(commitMode: .syncDurable)) }
    }
}

/// `strata scan --db PATH [--from K] [--to K] [--limit N]`
struct ScanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scan", abstract: "Print keys and values in order (read-only open).")
    @OptionGroup var location: DatabaseLocation
    @Option(help: "First key (included).") var from: String?
    @Option(help: "End key (excluded).") var to: String?
    @Option(help: "Print at most this many entries.") var limit: Int?

    func validate() throws {
        if let limit, limit < 0 { throw ValidationError("--limit must not be negative, got \(limit)") }
    }

    func run() throws {
        let db = try location.openForReading()
        defer { try? db.close() }
        try failingSync("scan") {
            let it = try db.makeIterator(options: ReadOptions(lowerBound: from.map { Array($0.utf8) }, upperBound: to.map { Array($0.utf8) }))
            it.seekToFirst()
            var n = 0
            while it.isValid && n < (limit ?? .max) {
                print("\(display(it.key)) => \(display(it.value))")
                n += 1
                it.next()
            }
            try it.checkStatus()
        }
    }
}

/// `strata stats --db PATH`
struct StatsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats", abstract: "Print the database's statistics (read-only open).")
    @OptionGroup var location: DatabaseLocation

    func run() throws {
        let db = try location.openForReading()
        defer { try? db.close() }
        print(db.property("strata.stats") ?? "")
    }
}
