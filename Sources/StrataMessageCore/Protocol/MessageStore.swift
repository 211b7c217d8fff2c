import Foundation

/// The persistence protocol every backend implements: store before
/// enqueue, delete on ack, reload pending messages on restart — and the
/// broker semantics on top (entities, peek-lock delivery, dead letters,
/// schedules, expiry, duplicate windows, topics). Docs/message-store.md
/// states the semantics; every backend passes the same contract tests.
public protocol MessageStore: Sendable {
    // MARK: Core

    /// Prepares the store (creates what it needs). Idempotent.
    func initialize() async throws
    /// Stores one message; a duplicate id is `MessageStoreError.duplicateId`.
    /// A queue that does not exist yet is created with default settings.
    func add(_ message: Message) async throws
    /// Stores several messages atomically: all or none.
    func add(contentsOf messages: [Message]) async throws
    /// The message with `id`, or nil.
    func get(id: String) async throws -> Message?
    /// Removes (acknowledges) the message with `id`, locked or not; no error if absent.
    func remove(id: String) async throws
    /// Up to `limit` stored messages of `queue`, oldest first (locked and
    /// scheduled ones included: what a broker reloads after a restart).
    func pending(queue: String, limit: Int) async throws -> [Message]
    /// Up to `limit` of the queue's newest stored messages, newest first —
    /// a chat's latest messages (the LSM store serves them from memory).
    func recent(queue: String, limit: Int) async throws -> [Message]
    /// Writes a consistent copy of the store to `path` (which must not exist).
    func backup(to path: String) async throws
    /// Replaces the store's contents with the copy at `path`.
    func restore(from path: String) async throws
    /// Reclaims space held by removed messages.
    func compact() async throws
    /// Flushes and releases the store.
    func close() async throws

    // MARK: Entities

    /// Creates `name` with `settings`, or changes the settings of an existing
    /// queue (queues that `add` created implicitly have default settings).
    func createQueue(_ name: String, settings: QueueSettings) async throws
    /// Deletes a queue, its messages and its dead-letter queue.
    func deleteQueue(_ name: String) async throws
    /// Every queue (not dead-letter or subscription queues), by name.
    func queues() async throws -> [QueueDescription]
    /// Creates a topic (no error if it exists).
    func createTopic(_ name: String) async throws
    /// Deletes a topic and its subscriptions with their messages.
    func deleteTopic(_ name: String) async throws
    /// Every topic, by name.
    func topics() async throws -> [String]
    /// Creates (or changes) a subscription of `topic`; its copies land in
    /// `EntityPath.subscriptionQueue(topic:subscription:)`.
    func createSubscription(_ name: String, topic: String, settings: QueueSettings, filter: SubscriptionFilter) async throws
    /// Deletes a subscription and its messages.
    func deleteSubscription(_ name: String, topic: String) async throws
    /// The subscriptions of `topic`, by name.
    func subscriptions(topic: String) async throws -> [SubscriptionDescription]

    // MARK: Broker semantics

    /// Publishes to a topic: each message is copied, in one atomic batch, to
    /// every subscription whose filter it passes; a copy's id is
    /// `<id>/<subscription>`. Duplicate ids are checked at the topic. Returns
    /// the number of copies stored.
    @discardableResult
    func publish(_ messages: [Message], topic: String) async throws -> Int
    /// Locks and returns up to `limit` deliverable messages of `queue`,
    /// oldest first: visible (`scheduledAt` passed), not expired, not held
    /// by a live lock. Each delivery counts in `deliveryCount`; a message
    /// already delivered `maxDeliveryCount` times goes to the dead-letter
    /// queue instead, and expired ones are dropped or dead-lettered.
    func receive(queue: String, limit: Int, lockDuration: Duration?) async throws -> [ReceivedMessage]
    /// Like `receive(queue:limit:lockDuration:)`, but when nothing is
    /// deliverable waits up to `maxWait` for a message to arrive (long
    /// polling) instead of returning an empty array at once.
    func receive(queue: String, limit: Int, lockDuration: Duration?, maxWait: Duration) async throws -> [ReceivedMessage]
    /// Acknowledges received messages (one atomic batch). A token whose lock
    /// expired is `.lockLost`, and then none of the batch is applied.
    func complete(_ tokens: [LockToken]) async throws
    /// Releases the lock so the message can be delivered again (or dead-
    /// lettered, if it has used its deliveries).
    func abandon(_ token: LockToken) async throws
    /// Moves the locked message to its queue's dead-letter queue with `reason`
    /// in the `DeadLetterReason` header.
    func deadLetter(_ token: LockToken, reason: String) async throws
    /// Extends the lock by the queue's lock duration; returns the new end.
    func renewLock(_ token: LockToken) async throws -> Date
    /// Removes every message of `queue` (locked ones too); returns how many.
    @discardableResult
    func purge(queue: String) async throws -> Int
    /// Counts of `queue` now.
    func statistics(queue: String) async throws -> QueueStatistics

    // MARK: Paging and reload

    /// Up to `limit` stored messages of `queue` that follow the message `id`
    /// in `pending` order (oldest first); nil starts at the head. Pages
    /// chain (`after:` the last id of the previous page) while others add
    /// and complete: a message stored throughout is listed once, in order.
    /// An `id` this store never listed and no longer holds is `.notFound`.
    func pending(queue: String, after id: String?, limit: Int) async throws -> [Message]
    /// Up to `limit` stored messages of `queue` that precede the message
    /// `id` in `pending` order, newest first; nil starts at the newest — a
    /// chat's history page by page. Chains like `pending(queue:after:limit:)`.
    func recent(queue: String, before id: String?, limit: Int) async throws -> [Message]
    /// Every queue a broker reloads after a restart, sorted: the queues, the
    /// subscription queues, and every dead-letter queue that holds messages.
    func allQueueNames() async throws -> [String]

    // MARK: Operations (Docs/message-store.md "Operations")

    /// Takes a consistent named snapshot of the whole store, then deletes
    /// the oldest snapshots beyond the store's `SnapshotOptions.maxSnapshots`.
    /// A crash while it runs leaves the earlier snapshots intact and no
    /// partial one visible. A name already taken is `.alreadyExists`.
    @discardableResult
    func createSnapshot(name: String) async throws -> SnapshotInfo
    /// Every snapshot, oldest first.
    func snapshots() async throws -> [SnapshotInfo]
    /// Replaces the store's contents with snapshot `name` (checked against
    /// its checksums first: a damaged snapshot is refused, the store untouched).
    func restoreSnapshot(name: String) async throws
    /// Deletes snapshot `name` (`.notFound` if there is none).
    func deleteSnapshot(name: String) async throws
    /// Checks the store: disk space against `thresholds`, engine or
    /// connection state, corruption found. Never throws for a problem it
    /// finds — that is a reason in the result.
    func health(thresholds: HealthThresholds) async throws -> StoreHealth
    /// Bytes the store occupies (files on disk; the database's tables for
    /// PostgreSQL; payload bytes in memory).
    func storageBytes() async throws -> Int64
}

extension MessageStore {
    /// Long polling by retrying every 5 ms, for backends without an arrival
    /// signal (the LSM, SQLite and in-memory stores wake waiters on arrival).
    /// A cancelled task stops at once with `CancellationError`.
    public func receive(queue: String, limit: Int, lockDuration: Duration?, maxWait: Duration) async throws -> [ReceivedMessage] {
        let deadline = ContinuousClock.now + maxWait
        while true {
            try Task.checkCancellation()
            let got = try await receive(queue: queue, limit: limit, lockDuration: lockDuration)
            if !got.isEmpty || ContinuousClock.now >= deadline { return got }
            try await Task.sleep(for: min(.milliseconds(5), deadline - ContinuousClock.now))
        }
    }

    /// Receives with the queue's lock duration.
    public func receive(queue: String, limit: Int = 1) async throws -> [ReceivedMessage] {
        try await receive(queue: queue, limit: limit, lockDuration: nil)
    }
    /// Acknowledges one received message.
    public func complete(_ token: LockToken) async throws { try await complete([token]) }
    /// Publishes one message to a topic.
    @discardableResult
    public func publish(_ message: Message, topic: String) async throws -> Int { try await publish([message], topic: topic) }
}

// Defaults, so a backend written before the operations API still compiles;
// every backend in this package overrides all of them.
extension MessageStore {
    /// Health with the default thresholds.
    public func health() async throws -> StoreHealth { try await health(thresholds: HealthThresholds()) }

    /// Not supported: a backend without its own snapshots says so.
    @discardableResult
    public func createSnapshot(name: String) async throws -> SnapshotInfo { throw Self.snapshotsUnsupported }
    /// Not supported: a backend without its own snapshots says so.
    public func snapshots() async throws -> [SnapshotInfo] { throw Self.snapshotsUnsupported }
    /// Not supported: a backend without its own snapshots says so.
    public func restoreSnapshot(name: String) async throws { throw Self.snapshotsUnsupported }
    /// Not supported: a backend without its own snapshots says so.
    public func deleteSnapshot(name: String) async throws { throw Self.snapshotsUnsupported }

    private static var snapshotsUnsupported: MessageStoreError {
        MessageStoreError(.invalidArgument, "\(Self.self) does not support named snapshots")
    }

    /// A probe: the store answers `queues()` (healthy) or not (critical,
    /// with the error as the reason).
    public func health(thresholds: HealthThresholds) async throws -> StoreHealth {
        do {
            _ = try await queues()
            return .healthy
        } catch {
            return StoreHealth(reasons: [HealthReason.from(error)])
        }
    }

    /// The payload bytes of every queue (dead-letter and subscription queues included).
    public func storageBytes() async throws -> Int64 {
        var total: Int64 = 0
        for q in try await allStoredQueues() { total += Int64(try await statistics(queue: q).bytes) }
        return total
    }
}

extension HealthReason {
    /// The critical finding an operation's failure amounts to.
    package static func from(_ error: any Error) -> HealthReason {
        guard let e = error as? MessageStoreError else { return HealthReason(.connectionLost, .critical, "\(error)") }
        switch e.kind {
        case .closed: return HealthReason(.closed, .critical, e.message)
        case .corruption: return HealthReason(.corruption, .critical, e.message)
        case .readOnly: return HealthReason(.readOnly, .critical, e.message)
        case .storageFull: return HealthReason(.lowDiskSpace, .critical, e.message)
        case .ioError: return HealthReason(.ioError, .critical, e.message)
        default: return HealthReason(.connectionLost, .critical, e.description)
        }
    }
}
