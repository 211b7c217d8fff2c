import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import Strata
import StrataMessageStore
import Synchronization

/// `strata demo [--store URL] [--db PATH] [--messages N]`: a broker-shaped
/// run on a message store — producers and competing consumers, acks, a
/// poison message that ends in the dead-letter queue, a restart with locks
/// held, a topic fan-out, a `QueueConsumer` service in a `ServiceGroup` —
/// printing what happened and the throughput. The store: `--store URL`,
/// else `--db PATH` (an LSM store), else `STRATA_STORE` and the other
/// `STRATA_*` variables (`MessageStoreConfiguration.load`), else the LSM
/// store at ./data/demo-store.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo", abstract: "Broker demo on a message store (STRATA_STORE, --store or --db; default the LSM store at ./data/demo-store).")
    @Option(help: ArgumentHelp("The store URL (lsm:, sqlite:, postgresql://, json:, memory:).", valueName: "url")) var store: String?
    @Option(help: ArgumentHelp("An LSM store directory.", valueName: "path")) var db: String?
    @Option(help: "Messages to produce (at least 100).") var messages = 20_000

    func validate() throws {
        if messages < 100 { throw ValidationError("--messages must be at least 100, got \(messages)") }
    }

    func run() async throws {
        try await failing("demo") {
            var environment = ProcessInfo.processInfo.environment
            if let store { environment["STRATA_STORE"] = store } else if let db { environment["STRATA_STORE"] = "lsm:" + db }
            if environment["STRATA_STORE"] == nil { environment["STRATA_STORE"] = "lsm:./data/demo-store" }
            let config = try MessageStoreConfiguration.load(environment: environment)
            try await demo(config, total: messages)
        }
    }
}

private func elapsed(_ start: ContinuousClock.Instant) -> Double {
    let (s, a) = (ContinuousClock.now - start).components
    return Double(s) + Double(a) / 1e18
}

private func demo(_ config: MessageStoreConfiguration, total: Int) async throws {
    if config.backend != .postgres && config.backend != .memory {
        try FileManager.default.createDirectory(atPath: (config.path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    }
    print("Strata broker demo: the \(config.backend.rawValue) message store at \(config.url), commit mode \(config.commitMode)")
    var store = try await config.open()
    // A store left by an earlier run is emptied through the store, never by
    // deleting its files: deleting a SQLite file leaves its -wal and -shm
    // beside the new one ("database disk image is malformed"), and a tool
    // reading the store meanwhile (`storage stats --follow`) keeps reading
    // the deleted file.
    for q in try await store.allQueueNames() { try await store.purge(queue: q) }
    for t in try await store.topics() { try await store.deleteTopic(t) }
    try await store.createQueue("orders", settings: QueueSettings(lockDuration: .seconds(30), maxDeliveryCount: 3))

    // 1. Producers.
    let producers = 16, perProducer = total / producers, batch = 16
    let first = store
    var start = ContinuousClock.now
    try await withThrowingTaskGroup(of: Void.self) { g in
        for p in 0..<producers {
            g.addTask {
                var i = 0
                while i < perProducer {
                    let n = min(batch, perProducer - i)
                    try await first.add(contentsOf: (0..<n).map { k in
                        Message(id: "order-\(p)-\(i + k)", queue: "orders", payload: Array("{\"order\":\(i + k),\"producer\":\(p)}".utf8),
                                headers: p == 0 && i + k == 7 ? ["poison": "true"] : [:])
                    })
                    i += n
                }
            }
        }
        try await g.waitForAll()
    }
    let produced = producers * perProducer
    print(String(format: "1. %d producers enqueued %d messages in batches of %d: %.0f messages/s", producers, produced, batch,
                 Double(produced) / elapsed(start)))

    // 2. Competing consumers; the poison message is abandoned every time.
    let consumers = 16
    start = ContinuousClock.now
    let completed = try await withThrowingTaskGroup(of: Int.self) { g in
        for _ in 0..<consumers {
            g.addTask {
                var done = 0, idle = 0
                while idle < 3 {
                    let got = try await first.receive(queue: "orders", limit: 16)
                    if got.isEmpty { idle += 1; await Task.yield(); continue }
                    idle = 0
                    var ack: [LockToken] = []
                    for r in got {
                        if r.message.headers["poison"] == "true" { try await first.abandon(r.lockToken) } else { ack.append(r.lockToken) }
                    }
                    try await first.complete(ack)
                    done += ack.count
                }
                return done
            }
        }
        var n = 0
        for try await d in g { n += d }
        return n
    }
    print(String(format: "2. %d consumers received and completed %d messages (peek-lock, batches of 16): %.0f messages/s",
                 consumers, completed, Double(completed) / elapsed(start)))
    if let lsm = ((first as? ForwardingMessageStore)?.base ?? first) as? LSMMessageStore {
        let cache = lsm.cacheStatistics
        print(String(format: "   receive cache: %d of %d receives served from memory (hit rate %.1f%%), %d KiB cached now",
                     cache.hits, cache.hits + cache.misses, cache.hitRate * 100, cache.bytes / 1024))
    }
    let dead = try await store.pending(queue: EntityPath.deadLetterQueue(of: "orders"), limit: 10)
    for m in dead {
        print("3. dead-lettered after \(m.deliveryCount) deliveries: \(m.id), reason \(m.headers[deadLetterReasonHeader] ?? "?")")
    }

    // 3. A restart with messages in flight.
    try await store.add(contentsOf: (0..<100).map { Message(id: "late-\($0)", queue: "orders", payload: Array("late \($0)".utf8)) })
    let held = try await store.receive(queue: "orders", limit: 10)
    if config.backend != .memory {
        try await store.close()
        store = try await config.open()
    }
    let st = try await store.statistics(queue: "orders")
    print("4. \(config.backend == .memory ? "no restart (memory keeps nothing)" : "restart"): \(st.active) messages ready, \(st.locked) still locked by their consumers, \(st.deadLettered) dead-lettered")
    try await store.complete(held.map(\.lockToken))
    let rest = try await store.receive(queue: "orders", limit: 1000)
    try await store.complete(rest.map(\.lockToken))
    print("5. after the \(config.backend == .memory ? "pause" : "restart") the old lock tokens completed their \(held.count) messages; \(rest.count) more received and completed; \(try await store.pending(queue: "orders", limit: 10).count) left")

    // 4. A topic with a filtered subscription.
    try await store.createTopic("events")
    try await store.createSubscription("audit", topic: "events", settings: QueueSettings(), filter: SubscriptionFilter())
    try await store.createSubscription("eu-billing", topic: "events", settings: QueueSettings(), filter: SubscriptionFilter(headers: ["region": "eu"]))
    var copies = 0
    for i in 0..<100 {
        copies += try await store.publish(Message(id: "event-\(i)", queue: "events", payload: [], headers: ["region": i % 4 == 0 ? "eu" : "us"]), topic: "events")
    }
    let audit = try await store.statistics(queue: EntityPath.subscriptionQueue(topic: "events", subscription: "audit")).active
    let eu = try await store.statistics(queue: EntityPath.subscriptionQueue(topic: "events", subscription: "eu-billing")).active
    print("6. 100 events published to topic 'events': \(copies) copies — audit \(audit), eu-billing \(eu) (filter region=eu)")

    // 5. A consumer service beside the broker's other services.
    try await consumerService(store, count: min(total, 2000))
    print("   every queue to reload after a restart: \(try await store.allQueueNames().joined(separator: ", "))")
    try await store.compact()
    try await store.close()
    print("done; the store is left at \(config.url)")
}

/// Runs a `QueueConsumer` in a `ServiceGroup` until the queue is drained,
/// then shuts the group down gracefully (in-flight handlers finish).
private func consumerService(_ store: any MessageStore, count: Int) async throws {
    try await store.add(contentsOf: (0..<count).map { Message(id: "email-\($0)", queue: "emails", payload: Array("to \($0)".utf8)) })
    let handled = Atomic<Int>(0)
    let consumer = QueueConsumer(store: store, queue: "emails", maxConcurrent: 16, gracePeriod: .seconds(10)) { _ in
        handled.add(1, ordering: .relaxed)
    }
    var logger = Logger(label: "strata.demo")
    logger.logLevel = .warning
    let group = ServiceGroup(services: [consumer], logger: logger)
    let start = ContinuousClock.now
    try await withThrowingTaskGroup(of: Void.self) { g in
        g.addTask { try await group.run() }
        while try await store.statistics(queue: "emails").active + store.statistics(queue: "emails").locked > 0 {
            try await Task.sleep(for: .milliseconds(20))
        }
        await group.triggerGracefulShutdown()
        try await g.waitForAll()
    }
    print(String(format: "7. a QueueConsumer service (16 handlers, locks renewed, settled by the handler's outcome) handled %d messages: %.0f messages/s; graceful shutdown left %d",
                 handled.load(ordering: .relaxed), Double(count) / elapsed(start), try await store.pending(queue: "emails", limit: 10).count))
}
