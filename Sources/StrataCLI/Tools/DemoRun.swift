import ArgumentParser
import Foundation
import Strata
import StrataMessageStore

/// `strata demo [--db PATH] [--messages N]`: a broker-shaped run on an
/// embedded LSM message store — producers and competing consumers, acks, a
/// poison message that ends in the dead-letter queue, a restart with locks
/// held, a topic fan-out — printing what happened and the throughput.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo", abstract: "Broker demo on an embedded LSM message store (replaces what is at --db).")
    @Option(help: ArgumentHelp("The store directory.", valueName: "path")) var db = "./data/demo-store"
    @Option(help: "Messages to produce (at least 100).") var messages = 20_000

    func validate() throws {
        if messages < 100 { throw ValidationError("--messages must be at least 100, got \(messages)") }
    }

    func run() async throws {
        try await failing("demo") { try await demo(path: db, total: messages) }
    }
}

private func elapsed(_ start: ContinuousClock.Instant) -> Double {
    let (s, a) = (ContinuousClock.now - start).components
    return Double(s) + Double(a) / 1e18
}

private func demo(path: String, total: Int) async throws {
    try? FileManager.default.removeItem(atPath: path)
    try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    var options = MessageStoreOptions()
    options.engine.logger.logLevel = .warning
    options.logger.logLevel = .warning
    print("Strata broker demo: an embedded LSM message store at \(path), every call .syncDurable (fsync before it returns)")
    var store = try await LSMMessageStore.open(at: path, options: options)
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
    let cache = first.cacheStatistics
    print(String(format: "   receive cache: %d of %d receives served from memory (hit rate %.1f%%), %d KiB cached now",
                 cache.hits, cache.hits + cache.misses, cache.hitRate * 100, cache.bytes / 1024))
    let dead = try await store.pending(queue: EntityPath.deadLetterQueue(of: "orders"), limit: 10)
    for m in dead {
        print("3. dead-lettered after \(m.deliveryCount) deliveries: \(m.id), reason \(m.headers[deadLetterReasonHeader] ?? "?")")
    }

    // 3. A restart with messages in flight.
    try await store.add(contentsOf: (0..<100).map { Message(id: "late-\($0)", queue: "orders", payload: Array("late \($0)".utf8)) })
    let held = try await store.receive(queue: "orders", limit: 10)
    try await store.close()
    store = try await LSMMessageStore.open(at: path, options: options)
    let st = try await store.statistics(queue: "orders")
    print("4. restart: \(st.active) messages ready, \(st.locked) still locked by their consumers, \(st.deadLettered) dead-lettered")
    try await store.complete(held.map(\.lockToken))
    let rest = try await store.receive(queue: "orders", limit: 1000)
    try await store.complete(rest.map(\.lockToken))
    print("5. after the restart the old lock tokens completed their \(held.count) messages; \(rest.count) more received and completed; \(try await store.pending(queue: "orders", limit: 10).count) left")

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
    try await store.compact()
    try await store.close()
    print("done; the store is left at \(path) (inspect it with: strata dump-manifest --db \(path))")
}
