import ArgumentParser
import Foundation
import StrataMessageStore
import StrataPostgres
import StrataSQLite
#if canImport(Glibc)
import Glibc
#endif

/// `strata stress-events-child`: the appender process the event-store crash
/// tests (Tests/StrataMessageStoreTests/EventStoreCrashTests.swift) start
/// and kill with SIGKILL. It appends events `<stream>-0`, `<stream>-1`, …
/// (payload `p<i>`) to one stream in batches of 1 to 4, one appender, and
/// journals every batch with one `write(2)` per line — `B <start> <end>`
/// before the append is issued, `A <end> <lsn>` after it returned — so the
/// kernel keeps every line written before the kill. After `--count` events
/// it waits to be killed.
struct StressEventsChildCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stress-events-child", abstract: "The appender of the event-store crash tests (not for direct use).",
        shouldDisplay: false)
    @Option(help: "lsm, sqlite or postgres.") var backend: String
    @Option(help: "The store: a directory (lsm), a file (sqlite) or a postgresql:// URL.") var store: String
    @Option(help: "Commit mode: sync, async or memory.") var commit: String
    @Option(help: "The stream appended to (also the idempotency keys' prefix).") var stream: String
    @Option(help: "The journal file.") var journal: String
    @Option(help: "Events to append before waiting to be killed.") var count = 1_000_000

    func validate() throws {
        guard ["lsm", "sqlite", "postgres"].contains(backend) else { throw ValidationError("--backend takes lsm, sqlite, postgres") }
        guard ["sync", "async", "memory"].contains(commit) else { throw ValidationError("--commit takes sync, async, memory") }
    }

    func run() async throws {
        OrphanWatch.start()
        let mode: EventStoreOptions.CommitMode = commit == "sync" ? .syncDurable
            : commit == "async" ? .asyncDurable(groupWindow: .milliseconds(5)) : .memoryOnly
        let options = EventStoreOptions(commitMode: mode)
        let events: any EventStore
        switch backend {
        case "lsm": events = try await LSMEventStore.open(at: store, options: options)
        case "sqlite": events = try SQLiteEventStore(path: store, options: options)
        default: events = try await PostgresEventStore(url: store, options: options)
        }
        let fd = open(journal, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw CLIError("cannot open the journal \(journal)") }
        func record(_ line: String) {
            let bytes = Array((line + "\n").utf8)
            _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        }
        var i = 0, batch = 0
        while i < count {
            let end = min(count, i + 1 + batch % 4)
            let batchEvents = (i..<end).map { Event(stream: stream, payload: Array("p\($0)".utf8), idempotencyKey: "\(stream)-\($0)") }
            record("B \(i) \(end)")
            let lsn = try await events.append(contentsOf: batchEvents)
            record("A \(end) \(lsn)")
            i = end
            batch += 1
        }
        while true { try await Task.sleep(for: .seconds(3600)) }
    }
}
