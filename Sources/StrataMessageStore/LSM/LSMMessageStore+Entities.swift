import Foundation
import Strata

/// Queues, topics and subscriptions of the LSM store. Entity records live in
/// the `entities` family (`q<name>` → settings as JSON, `t<name>` → the
/// topic's subscriptions as JSON); they change rarely, so each change is a
/// synchronous write made under the catalog mutex, which keeps concurrent
/// changes of one record in order.
extension LSMMessageStore {
    private static func entityKey(_ tag: Character, _ name: String) -> [UInt8] {
        [UInt8(ascii: tag.unicodeScalars.first!)] + Array(name.utf8)
    }

    private func entityWrite(_ o: Opened, _ body: (inout WriteBatch) throws -> Void) throws {
        var batch = WriteBatch()
        try body(&batch)
        try mappingEngineErrors {
            try o.db.write(batch, options: WriteOptions(commitMode: options.commitMode == .memoryOnly ? .memoryOnly : .syncDurable))
        }
    }

    func saveQueue(_ name: String, _ settings: QueueSettings, _ o: Opened, onlyIfAbsent: Bool) throws {
        try catalog.withLock { c in
            if onlyIfAbsent && c.queues[name] != nil { return }
            try entityWrite(o) { $0.put(Self.entityKey("q", name), Array(try JSONEncoder().encode(settings)), in: o.entities) }
            c.queues[name] = settings
        }
    }

    private func saveTopic(_ name: String, _ subs: [String: EntityCatalog.Subscription]?, _ c: inout EntityCatalog, _ o: Opened) throws {
        try entityWrite(o) { b in
            if let subs {
                b.put(Self.entityKey("t", name), Array(try JSONEncoder().encode(subs)), in: o.entities)
            } else {
                b.delete(Self.entityKey("t", name), in: o.entities)
            }
        }
        c.topics[name] = subs
    }

    public func createQueue(_ name: String, settings: QueueSettings) async throws {
        try EntityCatalog.validateName(name, "queue")
        try settings.validate()
        try saveQueue(name, settings, try opened(), onlyIfAbsent: false)
    }

    public func deleteQueue(_ name: String) async throws {
        let o = try opened()
        let known = try catalog.withLock { c -> Bool in
            guard c.queues[name] != nil else { return false }
            try entityWrite(o) { $0.delete(Self.entityKey("q", name), in: o.entities) }
            c.queues[name] = nil
            return true
        }
        let removed = try await purge(queue: name) + (try await purge(queue: EntityPath.deadLetterQueue(of: name)))
        if !known && removed == 0 { throw MessageStoreError(.notFound, "no queue \(name)") }
    }

    public func queues() async throws -> [QueueDescription] {
        _ = try opened()
        return catalog.withLock { c in c.queues.sorted { $0.key < $1.key }.map { QueueDescription(name: $0.key, settings: $0.value) } }
    }

    public func createTopic(_ name: String) async throws {
        try EntityCatalog.validateName(name, "topic")
        let o = try opened()
        try catalog.withLock { c in
            if c.topics[name] == nil { try saveTopic(name, [:], &c, o) }
        }
    }

    public func deleteTopic(_ name: String) async throws {
        let o = try opened()
        let subs = try catalog.withLock { c -> [String] in
            guard let subs = c.topics[name] else { throw MessageStoreError(.notFound, "no topic \(name)") }
            try saveTopic(name, nil, &c, o)
            return Array(subs.keys)
        }
        for s in subs {
            let q = EntityPath.subscriptionQueue(topic: name, subscription: s)
            _ = try await purge(queue: q)
            _ = try await purge(queue: EntityPath.deadLetterQueue(of: q))
        }
    }

    public func topics() async throws -> [String] {
        _ = try opened()
        return catalog.withLock { $0.topics.keys.sorted() }
    }

    public func createSubscription(_ name: String, topic: String, settings: QueueSettings, filter: SubscriptionFilter) async throws {
        try EntityCatalog.validateName(name, "subscription")
        try settings.validate()
        let o = try opened()
        try catalog.withLock { c in
            guard var subs = c.topics[topic] else { throw MessageStoreError(.notFound, "no topic \(topic)") }
            subs[name] = EntityCatalog.Subscription(settings: settings, filter: filter)
            try saveTopic(topic, subs, &c, o)
        }
    }

    public func deleteSubscription(_ name: String, topic: String) async throws {
        let o = try opened()
        try catalog.withLock { c in
            guard var subs = c.topics[topic], subs[name] != nil else {
                throw MessageStoreError(.notFound, "no subscription \(name) of topic \(topic)")
            }
            subs[name] = nil
            try saveTopic(topic, subs, &c, o)
        }
        let q = EntityPath.subscriptionQueue(topic: topic, subscription: name)
        _ = try await purge(queue: q)
        _ = try await purge(queue: EntityPath.deadLetterQueue(of: q))
    }

    public func subscriptions(topic: String) async throws -> [SubscriptionDescription] {
        _ = try opened()
        return try catalog.withLock { c in
            guard let subs = c.topics[topic] else { throw MessageStoreError(.notFound, "no topic \(topic)") }
            return subs.sorted { $0.key < $1.key }.map {
                SubscriptionDescription(name: $0.key, topic: topic, settings: $0.value.settings, filter: $0.value.filter)
            }
        }
    }

    public func publish(_ messages: [Message], topic: String) async throws -> Int {
        _ = try opened()
        let copies = try catalog.withLock { try $0.fanOut(messages, topic: topic) }
        if copies.isEmpty { return 0 }
        try await insert(copies)
        metrics.added.increment(by: copies.count)
        return copies.count
    }
}
