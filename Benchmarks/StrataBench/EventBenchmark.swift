import Foundation
import Strata
import StrataMessageStore
import StrataPostgres
import StrataSQLite

/// Flags of the event-store workloads (`strata bench --benchmarks=evt_...`):
/// `evt_append` (appends/s with `--clients` concurrent appenders, `--batch`
/// events per call), `evt_load` (events/s reading one stream of `--num`
/// events in pages of 1,000) and `evt_recover` (recovery time of a stream of
/// `--num` events without a snapshot, and from a snapshot at 99 % of it).
/// List flags run each value, so one line compares backends in one run.
public struct EventBenchFlags: Sendable {
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
    /// Backends: `lsm`, `sqlite`, `postgres`, `memory`.
    public var backends = ["lsm", "sqlite"]
    /// Commit modes: `sync` (.syncDurable; SQLite synchronous=FULL), `async`
    /// (.asyncDurable 5 ms; SQLite NORMAL), `memory` (.memoryOnly; SQLite OFF).
    public var commits = ["sync"]
    /// Scratch directory (emptied before each run).
    public var db = "/tmp/strata-evtbench"
    /// PostgreSQL server of the `postgres` backend.
    public var pgURL = ProcessInfo.processInfo.environment["STRATA_POSTGRES_URL"] ?? "postgresql://strata@127.0.0.1:54329/postgres"

    /// The defaults.
    public init() {}

    /// Parses `--name=value` arguments.
    public static func parse(_ args: [String]) -> Result<EventBenchFlags, BenchFlagError> {
        var f = EventBenchFlags()
        for arg in args {
            guard arg.hasPrefix("--"), let eq = arg.firstIndex(of: "=") else { return .failure(BenchFlagError("expected --name=value, got '\(arg)'")) }
            let name = String(arg[arg.index(arg.startIndex, offsetBy: 2)..<eq])
            let value = String(arg[arg.index(after: eq)...])
            let list = value.split(separator: ",").map(String.init)
            let ints = list.compactMap { Int($0) }.filter { $0 > 0 }
            let intsOK = !ints.isEmpty && ints.count == list.count
            func check(_ allowed: [String]) -> Bool { !list.isEmpty && list.allSatisfy(allowed.contains) }
            switch name {
            case "benchmarks" where check(["evt_append", "evt_load", "evt_recover"]): f.benchmarks = list
            case "num" where intsOK: f.num = ints[0]
            case "clients" where intsOK: f.clients = ints
            case "batch" where intsOK: f.batches = ints
            case "value_size" where intsOK: f.valueSize = ints[0]
            case "backend" where check(["lsm", "sqlite", "postgres", "memory"]): f.backends = list
            case "commit" where check(["sync", "async", "memory"]): f.commits = list
            case "db": f.db = value
            case "pg_url": f.pgURL = value
            default:
                return .failure(BenchFlagError("bad event benchmark flag --\(name)=\(value) (benchmarks evt_append,evt_load,evt_recover; "
                    + "backend lsm,sqlite,postgres,memory; commit sync,async,memory; num, clients, batch, value_size positive)"))
            }
        }
        return .success(f)
    }
}

/// Runs the event workloads; one line per configuration.
public struct EventBenchRunner: Sendable {
    let flags: EventBenchFlags
    /// A runner of `flags`.
    public init(flags: EventBenchFlags) { self.flags = flags }

    private func options(_ commit: String) -> EventStoreOptions {
        let mode: EventStoreOptions.CommitMode = commit == "sync" ? .syncDurable : commit == "async" ? .asyncDurable(groupWindow: .milliseconds(5)) : .memoryOnly
        return EventStoreOptions(commitMode: mode)
    }

    private func open(_ backend: String, _ commit: String) async throws -> any EventStore {
        let fm = FileManager.default
        try? fm.removeItem(atPath: flags.db)
        try fm.createDirectory(atPath: flags.db, withIntermediateDirectories: true)
        switch backend {
        case "lsm":
            var engine = Options()
            engine.logger.logLevel = .warning
            return try await LSMEventStore.open(at: flags.db + "/events", options: options(commit), engine: engine)
        case "sqlite": return try SQLiteEventStore(path: flags.db + "/events.sqlite", options: options(commit))
        case "postgres": return try await PostgresEventStore(url: flags.pgURL, options: options(commit))
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
                                    let line = try await append(store, clients: clients, batch: batch)
                                    try await store.close()
                                    print("evt_append \(backend)/\(commit) \(clients)c batch \(batch): \(line)")
                                }
                            }
                        case "evt_load":
                            let store = try await open(backend, commit)
                            print("evt_load \(backend)/\(commit): \(try await load(store))")
                            try await store.close()
                        default:
                            let store = try await open(backend, commit)
                            print("evt_recover \(backend)/\(commit): \(try await recover(store))")
                            try await store.close()
                        }
                    } catch {
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
    private final class Latencies: @unchecked Sendable {
        private let lock = NSLock()
        private var hist = LatencyHistogram()
        func merge(_ h: LatencyHistogram) { lock.withLock { hist.merge(h) } }
        var value: LatencyHistogram { lock.withLock { hist } }
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
            i += n
        }
        return lsns
    }

    private func load(_ store: any EventStore) async throws -> String {
        let fillStart = ContinuousClock.now
        _ = try await fill(store, "load")
        let filled = ContinuousClock.now - fillStart
        let start = ContinuousClock.now
        var after: Int64 = 0, n = 0
        while true {
            let page = try await store.load(stream: "load", after: after, limit: 1000)
            guard let last = page.last else { break }
            n += page.count
            after = last.lsn
        }
        let seconds = Double(Self.ns(ContinuousClock.now - start)) / 1e9
        return String(format: "%.0f events/s loaded (%d in %.2f s; filled in %@)", Double(n) / seconds, n, seconds, Self.ms(filled))
    }

    private func recover(_ store: any EventStore) async throws -> String {
        // The stream of the first run is replayed from the start; the
        // snapshot then lands at 99 % (event 990,000 of 1M).
        _ = try await fill(store, "rec")
        var count = 0
        let full = try await store.recover(stream: "rec", restore: { _ in }, apply: { count += $0.count })
        let at = flags.num - flags.num / 100
        guard let upto = try await store.lsn(forIdempotencyKey: "rec-\(at - 1)") else { throw BenchFlagError("event \(at) of the stream is missing") }
        try await store.writeSnapshot(EventSnapshot(stream: "rec", uptoLSN: upto, state: [UInt8](repeating: 1, count: 4096)))
        var after = 0
        let snap = try await store.recover(stream: "rec", restore: { _ in }, apply: { after += $0.count })
        return "no snapshot \(Self.ms(full.duration)) (\(count) events); snapshot at event \(at): \(Self.ms(snap.duration)) (\(after) events replayed)"
    }
}
