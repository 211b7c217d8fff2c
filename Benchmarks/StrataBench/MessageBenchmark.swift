import Foundation
import Strata
import StrataMessageStore
import StrataSQLite
import StrataPostgres
import Synchronization

/// Flags of the message workloads (`strata bench --benchmarks=msg_...`).
/// Every list flag runs each of its values, so one command line produces the
/// whole comparison table.
public struct MessageBenchFlags: Sendable {
    /// `msg_enqueue` (producers only), `msg_roundtrip` (producers and
    /// consumers at once: enqueue, receive under a lock, complete) and
    /// `msg_pending` (latency of `pending(limit: 100)` on a fresh queue, then
    /// after `num` messages were enqueued and acknowledged, then after a
    /// restart).
    public var benchmarks: [String] = ["msg_enqueue", "msg_roundtrip"]
    /// Messages per run.
    public var num = 100_000
    /// Concurrent producers (and as many consumers).
    public var clients = [1, 8, 64]
    /// Payload sizes in bytes.
    public var valueSizes = [100]
    /// Backends: `lsm`, `sqlite` (synchronous from --sqlite_sync), `postgres`
    /// (server at --pg_url), `memory`.
    public var backends = ["lsm"]
    /// LSM commit modes: `sync`, `async`, `memory`.
    public var commits = ["sync"]
    /// SQLite synchronous settings: `full`, `normal`.
    public var sqliteSync = ["full"]
    /// Messages per add and per receive.
    public var batch = 1
    /// Scratch directory (emptied before each run).
    public var db = "/tmp/strata-msgbench"
    /// Connection URL of the PostgreSQL backend.
    public var pgURL = ProcessInfo.processInfo.environment["STRATA_POSTGRES_URL"] ?? "postgresql://strata@127.0.0.1:54329/postgres"

    public init() {}
}

/// Runs the message workloads and prints one line per configuration:
/// messages per second and per-call latency percentiles.
public struct MessageBenchRunner: Sendable {
    let flags: MessageBenchFlags
    private let postgresRun = SharedRunCounter()
    /// Told as each configuration runs (the CLI's progress display); nil: nobody.
    public var progress: (any BenchProgress)?
    public init(flags: MessageBenchFlags) { self.flags = flags }

    private struct Config {
        var backend: String
        var mode: String
    }

    private func configs() -> [Config] {
        var out: [Config] = []
        for b in flags.backends {
            switch b {
            case "lsm": out += flags.commits.map { Config(backend: "lsm", mode: $0) }
            case "sqlite": out += flags.sqliteSync.map { Config(backend: "sqlite", mode: $0) }
            case "postgres": out.append(Config(backend: "postgres", mode: "-"))
            default: out.append(Config(backend: "memory", mode: "-"))
            }
        }
        return out
    }

    private func open(_ c: Config, keepData: Bool = false) async throws -> any MessageStore {
        let fm = FileManager.default
        if !keepData { try? fm.removeItem(atPath: flags.db) }
        try fm.createDirectory(atPath: flags.db, withIntermediateDirectories: true)
        switch c.backend {
        case "lsm":
            var o = MessageStoreOptions()
            o.logger.logLevel = .warning
            o.engine.logger.logLevel = .warning
            o.commitMode = c.mode == "sync" ? .syncDurable : c.mode == "async" ? .asyncDurable(groupWindow: .milliseconds(5)) : .memoryOnly
            return try await LSMMessageStore.open(at: flags.db + "/store", options: o)
        case "sqlite":
            return try SQLiteMessageStore(path: flags.db + "/store.sqlite", synchronous: c.mode == "full" ? .full : .normal)
        case "postgres":
            // A fresh set of tables per run (keepData reopens the same ones).
            if !keepData { postgresRun.next() }
            let prefix = "bench\(ProcessInfo.processInfo.processIdentifier)_\(postgresRun.value)_"
            // As many connections as the most clients (pgbench gets as many), within the
            // server's default max_connections of 100.
            let pool = min(64, max(16, flags.clients.max() ?? 16))
            return try await PostgresMessageStore(configuration: PostgresConfiguration(connectionString: flags.pgURL, poolSize: pool, tablePrefix: prefix))
        default:
            return InMemoryMessageStore()
        }
    }

    /// Runs every configuration; false if one failed.
    public func run() async -> Bool {
        print("message benchmarks: \(flags.num) messages per run, batch \(flags.batch); lines are backend/mode, payload, clients")
        for bench in flags.benchmarks {
            for c in configs() {
                if bench == "msg_pending" {
                    do {
                        let store = try await open(c)
                        let line = try await measurePendingAfterAcks(store, c)
                        print("msg_pending \(c.backend)/\(c.mode) \(flags.num) acks: " + line)
                    } catch {
                        print("msg_pending \(c.backend)/\(c.mode): failed: \(error)")
                        return false
                    }
                    continue
                }
                for size in flags.valueSizes {
                    for clients in flags.clients {
                        let name = "\(bench) \(c.backend)/\(c.mode) \(size)B \(clients)c"
                        do {
                            let store = try await open(c)
                            progress?.begin(name, total: flags.num * (bench == "msg_roundtrip" ? 2 : 1))
                            let line = try await measure(bench, store, size: size, clients: clients)
                            progress?.end()
                            try await store.close()
                            print(name.padding(toLength: max(34, name.count), withPad: " ", startingAt: 0) + ": " + line)
                        } catch {
                            progress?.end()
                            print("\(bench) \(c.backend)/\(c.mode): failed: \(error)")
                            return false
                        }
                    }
                }
            }
        }
        try? FileManager.default.removeItem(atPath: flags.db)
        return true
    }

    /// Numbers PostgreSQL runs so each gets its own tables.
    private final class SharedRunCounter: Sendable {
        private let n = Atomic<Int>(0)
        func next() { n.add(1, ordering: .relaxed) }
        var value: Int { n.load(ordering: .relaxed) }
    }

    /// Messages consumed so far, shared by the consumers.
    private final class SharedCount: Sendable {
        let value = Atomic<Int>(0)
    }

    /// Latencies gathered by concurrent clients.
    private final class Latencies: Sendable {
        private let hist = StoreLock(LatencyHistogram())
        func merge(_ h: LatencyHistogram) { hist.withLock { $0.merge(h) } }
        var value: LatencyHistogram { hist.withLock { $0 } }
    }

    private func measure(_ bench: String, _ store: any MessageStore, size: Int, clients: Int) async throws -> String {
        let payload = [UInt8](repeating: 0x5a, count: size)
        let perProducer = (flags.num + clients - 1) / clients
        let total = perProducer * clients
        let batch = flags.batch
        let addLatency = Latencies(), receiveLatency = Latencies()
        let progress = self.progress
        let consumed = SharedCount()
        let start = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for p in 0..<clients {
                group.addTask {
                    var h = LatencyHistogram()
                    var i = 0
                    while i < perProducer {
                        let n = min(batch, perProducer - i)
                        let msgs = (0..<n).map { Message(id: "p\(p)-\(i + $0)", queue: "bench", payload: payload) }
                        let t = ContinuousClock.now
                        try await store.add(contentsOf: msgs)
                        h.record(Self.ns(ContinuousClock.now - t))
                        progress?.advance(by: n)
                        i += n
                    }
                    addLatency.merge(h)
                }
            }
            if bench == "msg_roundtrip" {
                for _ in 0..<clients {
                    group.addTask {
                        var h = LatencyHistogram()
                        while consumed.value.load(ordering: .relaxed) < total {
                            let t = ContinuousClock.now
                            let got = try await store.receive(queue: "bench", limit: batch, lockDuration: nil, maxWait: .milliseconds(20))
                            if got.isEmpty { continue }
                            try await store.complete(got.map(\.lockToken))
                            h.record(Self.ns(ContinuousClock.now - t))
                            progress?.advance(by: got.count)
                            consumed.value.add(got.count, ordering: .relaxed)
                        }
                        receiveLatency.merge(h)
                    }
                }
            }
            try await group.waitForAll()
        }
        let seconds = Self.seconds(ContinuousClock.now - start)
        let a = addLatency.value
        var line = String(format: "%9.0f msg/s  add p50 %6.0f p99 %7.0f µs", Double(total) / seconds,
                          Double(a.percentile(50)) / 1000, Double(a.percentile(99)) / 1000)
        if bench == "msg_roundtrip" {
            let r = receiveLatency.value
            line += String(format: "  receive+complete p50 %6.0f p99 %7.0f µs", Double(r.percentile(50)) / 1000, Double(r.percentile(99)) / 1000)
        }
        return line
    }

    /// Mean latency (µs) of `pending(queue:limit: 100)` over `calls` calls.
    private func pendingLatency(_ store: any MessageStore, calls: Int = 2000) async throws -> (first: Double, mean: Double) {
        var t = ContinuousClock.now
        let n = try await store.pending(queue: "bench", limit: 100).count
        guard n == 100 else { throw BenchFlagError("pending returned \(n) messages, expected 100") }
        let first = Self.seconds(ContinuousClock.now - t) * 1e6
        t = ContinuousClock.now
        for _ in 0..<calls { _ = try await store.pending(queue: "bench", limit: 100) }
        return (first, Self.seconds(ContinuousClock.now - t) * 1e6 / Double(calls))
    }

    private func measurePendingAfterAcks(_ initial: any MessageStore, _ c: Config) async throws -> String {
        var store = initial
        let payload = [UInt8](repeating: 0x5a, count: flags.valueSizes.first ?? 100)
        func fill(_ prefix: String, _ count: Int) async throws {
            var i = 0
            while i < count {
                let n = min(1000, count - i)
                try await store.add(contentsOf: (0..<n).map { Message(id: "\(prefix)\(i + $0)", queue: "bench", payload: payload) })
                i += n
            }
        }
        try await fill("fresh-", 100)
        let fresh = try await pendingLatency(store)
        let tokens = try await store.receive(queue: "bench", limit: 100)
        try await store.complete(tokens.map(\.lockToken))
        // Enqueue and acknowledge `num` messages: producer and consumer in step.
        let start = ContinuousClock.now
        var acked = 0
        while acked < flags.num {
            let n = min(1000, flags.num - acked)
            try await fill("m\(acked)-", n)
            let got = try await store.receive(queue: "bench", limit: n)
            try await store.complete(got.map(\.lockToken))
            acked += got.count
        }
        let churn = Self.seconds(ContinuousClock.now - start)
        try await fill("after-", 100)
        let after = try await pendingLatency(store)
        try await store.close()
        let reopened = try await open(c, keepData: true)
        store = reopened
        let restarted = try await pendingLatency(store)
        try await store.close()
        return String(format: "fresh %.1f µs; after acks %.1f µs (%.2fx); after restart first call %.0f µs, then %.1f µs (%.2fx); enqueue+ack %.0f msg/s",
                      fresh.mean, after.mean, after.mean / fresh.mean, restarted.first, restarted.mean, restarted.mean / fresh.mean,
                      Double(flags.num) / churn)
    }

    private static func ns(_ d: Duration) -> UInt64 {
        let (s, a) = d.components
        return UInt64(max(0, s)) * 1_000_000_000 + UInt64(max(0, a) / 1_000_000_000)
    }

    private static func seconds(_ d: Duration) -> Double {
        let (s, a) = d.components
        return Double(s) + Double(a) / 1e18
    }
}
