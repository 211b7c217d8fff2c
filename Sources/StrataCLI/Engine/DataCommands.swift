import ArgumentParser
import Foundation
import Strata

/// `strata get --db PATH --key K [--wait SECONDS]`
struct GetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "get", abstract: "Print the value of a key (read-only open: works on a live database).",
        discussion: """
            With --wait, a missing key is looked up again every --interval seconds until it appears \
            or the time is up; between lookups the read-only handle catches up with the process writing \
            the database (Database.catchUp: the MANIFEST and the newer logs read again).
            """)
    @OptionGroup var location: DatabaseLocation
    @Option(help: "The key (text).") var key: String
    @Option(help: "Wait up to this many seconds for the key to appear, catching up with the writer.") var wait: Double?
    @Option(help: ArgumentHelp("With --wait: seconds between catch-ups (default 0.1).", valueName: "seconds")) var interval: Double?

    func validate() throws {
        if let wait, !(wait >= 0 && wait <= 86_400) { throw ValidationError("--wait must be 0...86400 seconds, got \(wait)") }
        if let interval, !(interval >= 0.001 && interval <= 60) { throw ValidationError("--interval must be 0.001...60 seconds, got \(interval)") }
        if interval != nil && wait == nil { throw ValidationError("--interval needs --wait") }
    }

    private var seconds: Double { interval ?? 0.1 }

    func run() throws {
        let db = try location.openForReading()
        defer { try? db.close() }
        let deadline = Date().addingTimeInterval(wait ?? 0)
        var announced = false
        while true {
            if let v = try failingSync("get", { try db.get(Array(key.utf8)) }) {
                print(display(v))
                return
            }
            guard wait != nil, Date() < deadline else { throw CLIError("key not found: \(key)") }
            if !announced {
                // Scripts wait for this line to know the handle is open.
                FileHandle.standardError.write(Data("strata: waiting for \(key) (catching up every \(seconds) s)\n".utf8))
                announced = true
            }
            usleep(useconds_t(seconds * 1_000_000))
            _ = try failingSync("catch up") { try db.catchUp() }
        }
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

/// `strata stats --db PATH [--follow [--interval SECONDS] [--count N]]`
struct StatsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats", abstract: "Print the database's statistics (read-only open).",
        discussion: """
            With --follow, the statistics are printed again every --interval seconds (each after a line \
            "--- TIME", marked "(no change)" when nothing moved), after the read-only handle caught up \
            with the process writing the database (Database.catchUp), until Ctrl-C or --count rounds.
            """)
    @OptionGroup var location: DatabaseLocation
    @OptionGroup var follow: FollowOptions

    func run() throws {
        let db = try location.openForReading()
        defer { try? db.close() }
        try follow.roundsSync { n in
            if n > 1 {
                let moved = try failingSync("catch up") { try db.catchUp() }
                print("--- \(ISO8601DateFormatter().string(from: Date()))\(moved ? "" : " (no change)")")
            }
            print(db.property("strata.stats") ?? "")
        }
    }
}
