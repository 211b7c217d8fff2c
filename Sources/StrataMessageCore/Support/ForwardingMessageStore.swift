import Foundation

/// A store that sends every call to `base`, but for the receives and
/// settlements given to it: how `MessageStoreConfiguration.open()` applies
/// a default lock duration to every backend (one rule in one place), and
/// what tests build doubles from.
package final class ForwardingMessageStore: MessageStore {
    /// A receive as called: `maxWait` nil for the non-waiting one.
    package struct ReceiveCall: Sendable {
        package var queue: String
        package var limit: Int
        package var lockDuration: Duration?
        package var maxWait: Duration?

        /// The call made on `store`.
        package func run(on store: any MessageStore) async throws -> [ReceivedMessage] {
            if let maxWait { return try await store.receive(queue: queue, limit: limit, lockDuration: lockDuration, maxWait: maxWait) }
            return try await store.receive(queue: queue, limit: limit, lockDuration: lockDuration)
        }
    }
    /// A settlement as called.
    package enum Settlement: Sendable {
        case complete([LockToken])
        case abandon(LockToken)
        case deadLetter(LockToken, reason: String)

        /// The call made on `store`.
        package func run(on store: any MessageStore) async throws {
            switch self {
            case .complete(let tokens): try await store.complete(tokens)
            case .abandon(let token): try await store.abandon(token)
            case .deadLetter(let token, let reason): try await store.deadLetter(token, reason: reason)
            }
        }
    }
    package typealias ReceiveOverride = @Sendable (_ base: any MessageStore, _ call: ReceiveCall) async throws -> [ReceivedMessage]
    package typealias SettleOverride = @Sendable (_ base: any MessageStore, _ call: Settlement) async throws -> Void

    /// The store every call goes to.
    package let base: any MessageStore
    private let receiveOverride: ReceiveOverride?
    private let settleOverride: SettleOverride?

    /// `base`, with receives going through `receive` and settlements
    /// (complete, abandon, dead-letter) through `settle` when given.
    package init(_ base: any MessageStore, receive: ReceiveOverride? = nil, settle: SettleOverride? = nil) {
        self.base = base
        receiveOverride = receive
        settleOverride = settle
    }

    private func receive(_ call: ReceiveCall) async throws -> [ReceivedMessage] {
        guard let receiveOverride else { return try await call.run(on: base) }
        return try await receiveOverride(base, call)
    }

    private func settle(_ call: Settlement) async throws {
        guard let settleOverride else { return try await call.run(on: base) }
        try await settleOverride(base, call)
    }

    package func receive(queue: String, limit: Int, lockDuration: Duration?) async throws -> [ReceivedMessage] {
        try await receive(ReceiveCall(queue: queue, limit: limit, lockDuration: lockDuration, maxWait: nil))
    }

    package func receive(queue: String, limit: Int, lockDuration: Duration?, maxWait: Duration) async throws -> [ReceivedMessage] {
        try await receive(ReceiveCall(queue: queue, limit: limit, lockDuration: lockDuration, maxWait: maxWait))
    }

    package func complete(_ tokens: [LockToken]) async throws { try await settle(.complete(tokens)) }
    package func abandon(_ token: LockToken) async throws { try await settle(.abandon(token)) }
    package func deadLetter(_ token: LockToken, reason: String) async throws { try await settle(.deadLetter(token, reason: reason)) }

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
