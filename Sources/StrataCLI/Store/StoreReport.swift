import Foundation
import StrataMessageStore

/// What `strata storage stats` prints (seed 003's output): backend,
/// location, size on disk and of the log, entity counts by kind, messages
/// per queue and in total, the last snapshot.
struct StoreReport: Encodable {
    struct Entities: Encodable {
        var queues = 0, topics = 0, subscriptions = 0
    }
    struct QueueLine: Encodable {
        var name: String
        var active = 0, scheduled = 0, locked = 0, deadLettered = 0, bytes = 0
        var oldestAgeSeconds: Int64?
    }
    var backend: String
    var location: String
    var sizeOnDiskBytes: UInt64?
    var logBytes: UInt64?
    var entities = Entities()
    var queues: [QueueLine] = []
    var total = QueueLine(name: "total")
    /// The newest named snapshot: name, time, bytes.
    var lastSnapshot: String?

    /// Every queue the store's entities imply: queues, subscription queues.
    /// (Dead-letter queues are counted in their queue's `deadLettered`.)
    static func allQueues(_ store: any MessageStore) async throws -> [String] {
        var names: [String] = []
        for q in try await store.queues() { names += [q.name, EntityPath.deadLetterQueue(of: q.name)] }
        for t in try await store.topics() {
            for s in try await store.subscriptions(topic: t) { names += [s.queue, EntityPath.deadLetterQueue(of: s.queue)] }
        }
        return names
    }

    static func gather(_ store: any MessageStore, configuration c: MessageStoreConfiguration) async throws -> StoreReport {
        var r = StoreReport(backend: c.backendName, location: c.location)
        if let usage = c.diskUsage() {
            r.sizeOnDiskBytes = usage.total
            r.logBytes = usage.log
        } else if c.backend == .postgres, let bytes = try? await store.storageBytes() {
            r.sizeOnDiskBytes = UInt64(max(0, bytes))  // the server's size of the store's tables (pg_total_relation_size)
        }
        // A backend without snapshots says so by throwing; stats go on.
        if let last = (try? await store.snapshots())?.last {
            r.lastSnapshot = "\(last.name) at \(ISO8601DateFormatter().string(from: last.date)), \(last.bytes) bytes"
        }
        var names = try await store.queues().map(\.name)
        r.entities.queues = names.count
        for t in try await store.topics() {
            r.entities.topics += 1
            let subs = try await store.subscriptions(topic: t)
            r.entities.subscriptions += subs.count
            names += subs.map(\.queue)
        }
        for name in names {
            let s = try await store.statistics(queue: name)
            let line = QueueLine(name: name, active: s.active, scheduled: s.scheduled, locked: s.locked, deadLettered: s.deadLettered,
                                 bytes: s.bytes, oldestAgeSeconds: s.oldestAge?.components.seconds)
            r.queues.append(line)
            r.total.active += s.active
            r.total.scheduled += s.scheduled
            r.total.locked += s.locked
            r.total.deadLettered += s.deadLettered
            r.total.bytes += s.bytes
        }
        return r
    }

    /// Indented, or on one line (`--follow --json` prints JSON Lines).
    func json(oneLine: Bool = false) throws -> String {
        let e = JSONEncoder()
        e.outputFormatting = oneLine ? [.sortedKeys, .withoutEscapingSlashes] : [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        return String(decoding: try e.encode(self), as: UTF8.self)
    }

    func text() -> String {
        var out = [
            "backend: \(backend)",
            "location: \(location)",
            "size on disk: \(sizeOnDiskBytes.map { "\(humanBytes($0)) (\($0) bytes)" } ?? "n/a")",
            "log size: \(logBytes.map { "\(humanBytes($0)) (\($0) bytes)" } ?? "n/a")",
            "entities: \(entities.queues) queues, \(entities.topics) topics, \(entities.subscriptions) subscriptions",
        ]
        func line(_ q: QueueLine) -> String {
            "\(q.name): active \(q.active), scheduled \(q.scheduled), locked \(q.locked), dead-lettered \(q.deadLettered), \(q.bytes) bytes"
                + (q.oldestAgeSeconds.map { ", oldest \($0) s" } ?? "")
        }
        out += queues.map { "  " + line($0) }
        out.append(line(total))
        out.append("last snapshot: \(lastSnapshot ?? "none")")
        return out.joined(separator: "\n")
    }
}
