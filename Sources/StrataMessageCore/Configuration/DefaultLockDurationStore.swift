import Foundation

/// A store whose receives that name no lock duration lock for
/// `lockDuration`: what `MessageStoreConfiguration.open()` returns when the
/// configuration sets `lockDuration` (`storage.lock_duration`,
/// `STRATA_LOCK_DURATION`). A wrapper rather than a setting of each
/// backend, so that every backend — and every caller passing nil, such as
/// `QueueConsumer` and `messages(queue:lockDuration:)` — gets the same
/// rule from one place. Every other call goes to `base` unchanged
/// (renewals, as for any receive naming its duration, extend by the
/// queue's lock duration).
package final class DefaultLockDurationStore: MessageStore {
    /// The store every call goes to.
    package let base: any MessageStore
    /// The lock a receive without a duration takes.
    package let lockDuration: Duration

    /// `base`, with receives that name no duration locking for `lockDuration`.
    package init(_ base: any MessageStore, lockDuration: Duration) {
        self.base = base
        self.lockDuration = lockDuration
    }

    // The one changed rule.

    package func receive(queue: String, limit: Int, lockDuration: Duration?) async throws -> [ReceivedMessage] {
        try await base.receive(queue: queue, limit: limit, lockDuration: lockDuration ?? self.lockDuration)
    }

    package func receive(queue: String, limit: Int, lockDuration: Duration?, maxWait: Duration) async throws -> [ReceivedMessage] {
        try await base.receive(queue: queue, limit: limit, lockDuration: lockDuration ?? self.lockDuration, maxWait: maxWait)
    }

    // Forwarded unchanged.

    package func initialize() async throws { try await base.initialize() }
    package func add(_ message: Message) async throws { try await base.add(message) }
    package func add(contentsOf messages: [Message]) async throws { try await base.add(contentsOf: messages) }
    package func get(id: String) async throws -> Message? { try await base.get(id: id) }
    package func remove(id: String) async throws { try await base.remove(id: id) }
    package func pending(queue: String, limit: Int) async throws -> [Message] { try await base.pending(queue: queue, limit: limit) }
    package func recent(queue: String, limit: Int) async throws -> [Message] { try await base.recent(queue: queue, limit: limit) }
    package func backup(to path: String) async throws { try await base.backup(to: path) }
    package func restore(from path: String) async throws { try await base.restore(from: path) }
    package func compact() async throws { try await base.compact() }
    package func close() async throws { try await base.close() }
    package func createQueue(_ name: String, settings: QueueSettings) async throws { try await base.createQueue(name, settings: settings) }
    package func deleteQueue(_ name: String) async throws { try await base.deleteQueue(name) }
    package func queues() async throws -> [QueueDescription] { try await base.queues() }
    package func createTopic(_ name: String) async throws { try await base.createTopic(name) }
    package func deleteTopic(_ name: String) async throws { try await base.deleteTopic(name) }
    package func topics() async throws -> [String] { try await base.topics() }
    package func createSubscription(_ name: String, topic: String, settings: QueueSettings, filter: SubscriptionFilter) async throws {
        try await base.createSubscription(name, topic: topic, settings: settings, filter: filter)
    }
    package func deleteSubscription(_ name: String, topic: String) async throws { try await base.deleteSubscription(name, topic: topic) }
    package func subscriptions(topic: String) async throws -> [SubscriptionDescription] { try await base.subscriptions(topic: topic) }
    package func publish(_ messages: [Message], topic: String) async throws -> Int { try await base.publish(messages, topic: topic) }
    package func complete(_ tokens: [LockToken]) async throws { try await base.complete(tokens) }
    package func abandon(_ token: LockToken) async throws { try await base.abandon(token) }
    package func deadLetter(_ token: LockToken, reason: String) async throws { try await base.deadLetter(token, reason: reason) }
    package func renewLock(_ token: LockToken) async throws -> Date { try await base.renewLock(token) }
    package func purge(queue: String) async throws -> Int { try await base.purge(queue: queue) }
    package func statistics(queue: String) async throws -> QueueStatistics { try await base.statistics(queue: queue) }
    package func pending(queue: String, after id: String?, limit: Int) async throws -> [Message] {
        try await base.pending(queue: queue, after: id, limit: limit)
    }
    package func recent(queue: String, before id: String?, limit: Int) async throws -> [Message] {
        try await base.recent(queue: queue, before: id, limit: limit)
    }
    package func allQueueNames() async throws -> [String] { try await base.allQueueNames() }
    package func createSnapshot(name: String) async throws -> SnapshotInfo { try await base.createSnapshot(name: name) }
    package func snapshots() async throws -> [SnapshotInfo] { try await base.snapshots() }
    package func restoreSnapshot(name: String) async throws { try await base.restoreSnapshot(name: name) }
    package func deleteSnapshot(name: String) async throws { try await base.deleteSnapshot(name: name) }
    package func health(thresholds: HealthThresholds) async throws -> StoreHealth { try await base.health(thresholds: thresholds) }
    package func storageBytes() async throws -> Int64 { try await base.storageBytes() }
}
