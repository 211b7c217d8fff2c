import ArgumentParser
import Foundation
import StrataMessageStore

/// `strata storage stats|export|import|compact|purge`: a message store of any backend.
struct StorageCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "storage", abstract: "Operate a message store of any backend (--store URL).",
        subcommands: [StorageStatsCommand.self, StorageExportCommand.self, StorageImportCommand.self,
                      StorageCompactCommand.self, StoragePurgeCommand.self])
}

extension MessageExport.Format: ExpressibleByArgument {}

/// `strata storage stats [--json] [--follow [--interval SECONDS] [--count N]]`
struct StorageStatsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats",
        abstract: "Backend, location, size on disk, entity counts, messages per queue and in total (read-only open).",
        discussion: """
            With --follow, the report is printed again every --interval seconds (each after a line \
            "--- TIME"; with --json, one JSON object per line) until Ctrl-C or --count rounds, following \
            the store as a broker writes it: an LSM store catches up with the writer \
            (LSMMessageStore.catchUp), a JSON store is read again, SQLite and PostgreSQL are queried again.
            """)
    @OptionGroup var location: StoreLocation
    @Flag(help: "Print one JSON object instead of text.") var json = false
    @OptionGroup var follow: FollowOptions

    func run() async throws {
        let configuration = try location.configuration()
        try await location.following(follow) { store, n in
            let report = try await failing("storage stats") { try await StoreReport.gather(store, configuration: configuration) }
            if follow.follow && n > 1 && !json { print("--- \(ISO8601DateFormatter().string(from: Date()))") }
            print(json ? try report.json(oneLine: follow.follow) : report.text())
        }
    }
}

/// `strata storage export --to FILE [--format jsonl|csv]`
struct StorageExportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write the store's entities, messages and duplicate-window markers to a file (read-only open).",
        discussion: "JSON Lines or CSV, one record per line/row (Docs/message-store.md, \"Export format\"); streamed.")
    @OptionGroup var location: StoreLocation
    @Option(help: ArgumentHelp("The file to write (must not exist; - for stdout).", valueName: "file"), completion: .file()) var to: String
    @Option(help: "jsonl or csv (default: from the file name, .csv is CSV).") var format: MessageExport.Format?
    @OptionGroup var progress: ProgressOptions

    func run() async throws {
        let store = try await location.open(readOnly: true)
        let bar = progress.reporter("exporting", unit: "messages")
        let n = try await failing("export") {
            try await MessageExport.export(store, to: to, format: format ?? .inferred(fromPath: to)) {
                bar.update(UInt64($0.messages), of: $0.expectedMessages.map(UInt64.init))
            }
        }
        bar.finish()
        try? await store.close()
        let line = "exported \(n) messages to \(to)"
        if to == "-" { FileHandle.standardError.write(Data((line + "\n").utf8)) } else { print(line) }
    }
}

/// `strata storage import --from FILE [--format jsonl|csv] [--replace]`
struct StorageImportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Read an export into the store: merge (skip known ids) or --replace (the store becomes equal to the file).")
    @OptionGroup var location: StoreLocation
    @Option(help: ArgumentHelp("The export to read.", valueName: "file"), completion: .file(extensions: ["jsonl", "csv", "json"])) var from: String
    @Option(help: "jsonl or csv (default: from the file name, .csv is CSV).") var format: MessageExport.Format?
    @Flag(help: "Remove every entity, message and duplicate-window marker first.") var replace = false
    @OptionGroup var progress: ProgressOptions

    func run() async throws {
        guard FileManager.default.isReadableFile(atPath: from) else { throw CLIError("cannot read \(from)") }
        let store = try await location.open(create: true)
        let bar = progress.reporter("importing", unit: "bytes")
        let s = try await failing("import") {
            try await MessageExport.importFile(from, into: store, format: format, replace: replace) { bar.update($0.bytes, of: $0.totalBytes) }
        }
        bar.finish()
        try await failing("closing the store") { try await store.close() }
        print("imported \(s.entities) entities and \(s.messages) messages; \(s.duplicates) duplicates skipped; \(s.windows) duplicate-window markers")
    }
}

/// `strata storage compact`
struct StorageCompactCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compact", abstract: "Run the store's own compaction (every column family of an LSM store; VACUUM on SQLite).")
    @OptionGroup var location: StoreLocation
    @OptionGroup var progress: ProgressOptions

    func run() async throws {
        let store = try await location.open()
        let start = ContinuousClock.now
        let bar = progress.reporter("compacting", unit: "")
        let ticker = Task {
            while !Task.isCancelled {
                bar.update(0, of: nil)
                try? await Task.sleep(for: .milliseconds(200))
            }
        }
        defer { ticker.cancel() }
        try await failing("compact") { try await store.compact() }
        ticker.cancel()
        bar.finish()
        try await failing("closing the store") { try await store.close() }
        print("compacted \(try location.configuration().url) in \(ContinuousClock.now - start)")
    }
}

/// `strata storage purge (--queue NAME | --all) [--yes]`
struct StoragePurgeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "purge", abstract: "Remove every message of one queue, or of every queue (--all); asks for 'yes' unless --yes.")
    @OptionGroup var location: StoreLocation
    @Option(help: "The queue (a dead-letter or subscription queue by its full name).") var queue: String?
    @Flag(help: "Every queue, dead-letter and subscription queue.") var all = false
    @Flag(help: "Do not ask.") var yes = false

    func validate() throws {
        if (queue == nil) == !all { throw ValidationError("give either --queue NAME or --all") }
    }

    func run() async throws {
        let store = try await location.open()
        let names = try await failing("purge") { all ? try await StoreReport.allQueues(store) : [queue!] }
        if !yes {
            var n = 0
            for q in names {
                let s = try await failing("purge") { try await store.statistics(queue: q) }
                n += s.active + s.locked + s.scheduled
            }
            guard confirmed("purge \(n) messages of \(all ? "every queue" : "queue \(queue!)")?") else {
                try? await store.close()
                throw CLIError("purge cancelled")
            }
        }
        var total = 0
        for q in names { total += try await failing("purge \(q)") { try await store.purge(queue: q) } }
        try await failing("closing the store") { try await store.close() }
        print("purged \(total) messages from \(all ? "\(names.count) queues" : queue!)")
    }
}

/// `strata queues [--follow [--interval SECONDS] [--count N]]`
struct QueuesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "queues", abstract: "List the store's queues and subscriptions with their statistics (read-only open).",
        discussion: """
            With --follow, the list is printed again every --interval seconds (each after a line "--- TIME") \
            until Ctrl-C or --count rounds, following the store as a broker writes it (see storage stats).
            """)
    @OptionGroup var location: StoreLocation
    @OptionGroup var follow: FollowOptions

    func run() async throws {
        try await location.following(follow) { store, n in
            if n > 1 { print("--- \(ISO8601DateFormatter().string(from: Date()))") }
            try await failing("queues") {
                for q in try await store.queues() {
                    let s = try await store.statistics(queue: q.name)
                    let age = s.oldestAge.map { "\($0.components.seconds) s" } ?? "-"
                    print("\(q.name): active \(s.active), scheduled \(s.scheduled), locked \(s.locked), dead-lettered \(s.deadLettered), \(s.bytes) bytes, oldest \(age)")
                }
                for t in try await store.topics() {
                    for sub in try await store.subscriptions(topic: t) {
                        let s = try await store.statistics(queue: sub.queue)
                        print("\(sub.queue): active \(s.active), scheduled \(s.scheduled), locked \(s.locked), dead-lettered \(s.deadLettered)")
                    }
                }
            }
        }
    }
}
