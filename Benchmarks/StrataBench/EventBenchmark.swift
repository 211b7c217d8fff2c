import Foundation
import Strata
import StrataMessageStore
import StrataPostgres
import StrataSQLite

/// Settings of the event-store workloads, filled by `strata bench
/// --benchmarks=evt_...` (Sources/StrataCLI/Tools/BenchCommand.swift, which
/// also checks them): `evt_append` (appends/s with `clients` concurrent
/// appenders, `batches` events per call), `evt_load` (events/s reading one
/// stream of `num` events in pages of 1,000, after a reopen) and
/// `evt_recover` (recovery time, after a reopen, of a stream of `num` events
/// without a snapshot and from a snapshot at 99 % of it). List settings run
/// each value, so one command line compares backends in one run.
public struct EventBenchFlags: Sendable {
    /// The workload names `strata bench` routes here.
    public static let names = ["evt_append", "evt_load", "evt_recover"]
    /// The backends: `lsm`, `sqlite`, `postgres`, `memory`.
    public static let backendNames = ["lsm", "sqlite", "postgres", "memory"]
    /// The commit modes: `sync` (.syncDurable; SQLite synchronous=FULL),
    /// `async` (.asyncDurable 5 ms; SQLite NORMAL), `memory` (.memoryOnly;
    /// SQLite OFF).
    public static let commitNames = ["sync", "async", "memory"]

    /// Workloads to run.
    public var benchmarks: [String] = ["evt_append"]
    /// Events per run (split over the clients for `evt_append`).
    public var num = 100_000
    /// Concurrent appenders.
    public var clients = [1, 64]
    /// Events per append call.
    public var batches = [1]
    /// Payload bytes (random, so LZ4 keeps them as they are).
    public var valueSize = 100
    /// Backends (`backendNames`).
    public var backends = ["lsm", "sqlite"]
    /// Commit modes (`commitNames`).
    public var commits = ["sync"]
    /// Scratch directory (emptied before each run).
    public var db = "/tmp/strata-evtbench"
    /// PostgreSQL server of the `postgres` backend.
    public var pgURL = ProcessInfo.processInfo.environment["STRATA_POSTGRES_URL"] ?? "postgresql://strata@127.0.0.1:54329/postgres"

    /// The defaults.
    public init() {}
}

/// Runs the event workloads; one line per configuration.
public struct EventBenchRunner: Sendable {
    let flags: EventBenchFlags
    /// Told as each configuration runs (the CLI's progress display); nil: nobody.
    public var progress: (any BenchProgress)?
    /// A runner of `flags`.
    public init(flags: EventBenchFlags) { self.flags = flags }

    private func options(_ commit: String) -> EventStoreOptions {
        let mode: EventStoreOptions.CommitMode = commit == "sync" ? .syncDurable : commit == "async" ? .asyncDurable(groupWindow: .milliseconds(5)) : .memoryOnly
        return EventStoreOptions(commitMode: mode)
    }

    /// Opens the backend's store; `keepData` reopens the one of the run
    /// before (a restart), otherwise the store starts empty.
    private func open(_ backend: String, _ commit: String, keepData: Bool = false) async throws -> any EventStore {
        let fm = FileManager.default
        if !keepData { try? fm.removeItem(atPath: flags.db) }
        try fm.createDirectory(atPath: flags.db, withIntermediateDirectories: true)
        switch backend {
        case "lsm":
            var engine = Options()
            engine.logger.logLevel = .warning
            return try await LSMEventStore.open(at: flags.db + "/events", options: options(commit), engine: engine)
        case "sqlite": return try SQLiteEventStore(path: flags.db + "/events.sqlite", options: options(commit))
        case "postgres":
            let store = try await PostgresEventStore(url: flags.pgURL, options: options(commit))
            if !keepData { try await store.removeEverything() }
            return store
        default: return InMemoryEventStore(options: options(commit))
        }
    }

    /// Runs every configuration; false if one failed.
    public func run() async -> Bool {
        print("event benchmarks: \(flags.num) events per run, \(flags.valueSize)-byte payloads")
        for bench in flags.benchmarks {
            for backend in flags.backends {
                for commit in flags.commits {
                    do {
                        switch bench {
                        case "evt_append":
                            for clients in flags.clients {
                                for batch in flags.batches {
                                    let store = try await open(backend, commit)
                                    progress?.begin("evt_append", total: max(1, flags.num / clients) * clients)
                                    let line = try await append(store, clients: clients, batch: batch)
                                    progress?.end()
                                    try await store.close()
                                    print("evt_append \(backend)/\(commit) \(clients)c batch \(batch): \(line)")
                                }
                            }
                        case "evt_load":
                            // Filled, then read back: every event counts twice.
                            progress?.begin("evt_load", total: 2 * flags.num)
                            let line = try await load(backend, commit)
                            progress?.end()
                            print("evt_load \(backend)/\(commit): \(line)")
                        default:
                            // Filled, replayed whole, then replayed after the snapshot at 99 %.
                            progress?.begin("evt_recover", total: 2 * flags.num + flags.num / 100)
                            let line = try await recover(backend, commit)
                            progress?.end()
                            print("evt_recover \(backend)/\(commit): \(line)")
                        }
                    } catch {
                        progress?.end()
                        print("\(bench) \(backend)/\(commit): failed: \(error)")
                        return false
                    }
                }
            }
        }
        try? FileManager.default.removeItem(atPath: flags.db)
        return true
    }

    private func payload(_ seed: Int) -> [UInt8] {
        var x = UInt64(truncatingIfNeeded: seed) &* 0x9E37_79B9_7F4A_7C15 | 1
        return (0..<flags.valueSize).map { _ in
            x ^= x << 13; x ^= x >> 7; x ^= x << 17
            return UInt8(truncatingIfNeeded: x)
        }
    }

    /// Latencies of concurrent clients.
    private final class Latencies: Sendable {
        private let hist = StoreLock(LatencyHistogram())
        func merge(_ h: LatencyHistogram) { hist.withLock { $0.merge(h) } }
        var value: LatencyHistogram { hist.withLock { $0 } }
    }

    private static func ns(_ d: Duration) -> UInt64 { UInt64(max(0, d.components.seconds * 1_000_000_000 + d.components.attoseconds / 1_000_000_000)) }
    private static func ms(_ d: Duration) -> String { String(format: "%.1f ms", Double(ns(d)) / 1e6) }

    private func append(_ store: any EventStore, clients: Int, batch: Int) async throws -> String {
        let perClient = max(1, flags.num / clients)
        let latencies = Latencies()
        let body = payload(1)
        let start = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { g in
            for c in 0..<clients {
                g.addTask {
                    var h = LatencyHistogram()
                    var i = 0
                    while i < perClient {
                        let n = min(batch, perClient - i)
                        let events = (0..<n).map { Event(stream: "s\(c % 16)", payload: body, idempotencyKey: "c\(c)-\(i + $0)") }
                        let t = ContinuousClock.now
                        _ = try await store.append(contentsOf: events)
                        h.record(Self.ns(ContinuousClock.now - t))
                        progress?.advance(by: n)
                        i += n
                    }
                    latencies.merge(h)
                }
            }
            try await g.waitForAll()
        }
        let seconds = Double(Self.ns(ContinuousClock.now - start)) / 1e9
        let h = latencies.value
        let total = perClient * clients
        return String(format: "%.0f events/s (%d in %.2f s), call p50 %.2f ms p99 %.2f ms", Double(total) / seconds, total, seconds,
                      Double(h.percentile(50)) / 1e6, Double(h.percentile(99)) / 1e6)
    }

    /// Fills one stream with `flags.num` events in batches of 1,000.
    private func fill(_ store: any EventStore, _ stream: String) async throws -> [Int64] {
        var lsns: [Int64] = []
        var i = 0
        while i < flags.num {
            let n = min(1000, flags.num - i)
            let events = (0..<n).map { Event(stream: stream, payload: payload(i + $0), idempotencyKey: "\(stream)-\(i + $0)") }
            lsns.append(try await store.append(contentsOf: events))
            progress?.advance(by: n)
            i += n
        }
        return lsns
    }

    /// Fills a stream, reopens the store (its caches start cold for the
    /// engine's blocks, warm for the OS page cache) and reads it back.
    private func load(_ backend: String, _ commit: String) async throws -> String {
        var store = try await open(backend, commit)
        let fillStart = ContinuousClock.now
        _ = try await fill(store, "load")
        let filled = ContinuousClock.now - fillStart
        if backend != "memory" {
            try await store.close()
            store = try await open(backend, commit, keepData: true)
        }
        let start = ContinuousClock.now
        var after: Int64 = 0, n = 0
        while true {
            let page = try await store.load(stream: "load", after: after, limit: 1000)
            guard let last = page.last else { break }
            n += page.count
            progress?.advance(by: page.count)
            after = last.lsn
        }
        let seconds = Double(Self.ns(ContinuousClock.now - start)) / 1e9
        try await store.close()
        return String(format: "%.0f events/s loaded (%d in %.2f s; filled in %@)", Double(n) / seconds, n, seconds, Self.ms(filled))
    }

    /// Fills a stream and recovers it after a reopen: replayed from its
    /// start, then from a snapshot at 99 % of it (event 990,000 of 1M).
    private func recover(_ backend: String, _ commit: String) async throws -> String {
        var store = try await open(backend, commit)
        _ = try await fill(store, "rec")
        func reopen() async throws -> Duration {
            guard backend != "memory" else { return .zero }
            try await store.close()
            let t = ContinuousClock.now
            store = try await open(backend, commit, keepData: true)
            return ContinuousClock.now - t
        }
        let firstOpen = try await reopen()
        var count = 0
        let progress = self.progress
        let full = try await store.recover(stream: "rec", restore: { _ in }, apply: {
            count += $0.count
            progress?.advance(by: $0.count)
        })
        let at = flags.num - flags.num / 100
        guard let upto = try await store.lsn(forIdempotencyKey: "rec-\(at - 1)") else { throw BenchFlagError("event \(at) of the stream is missing") }
        try await store.writeSnapshot(EventSnapshot(stream: "rec", uptoLSN: upto, state: [UInt8](repeating: 1, count: 4096)))
        let secondOpen = try await reopen()
        var after = 0
        let snap = try await store.recover(stream: "rec", restore: { _ in }, apply: {
            after += $0.count
            progress?.advance(by: $0.count)
        })
        try await store.close()
        return "no snapshot \(Self.ms(full.duration)) (\(count) events); snapshot at event \(at): \(Self.ms(snap.duration)) "
            + "(\(after) events replayed); store opens took \(Self.ms(firstOpen)) and \(Self.ms(secondOpen))"
    }
}
