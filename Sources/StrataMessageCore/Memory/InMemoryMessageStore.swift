import Foundation
import Synchronization

/// The reference implementation: everything in memory, written for
/// obviousness rather than speed (linear scans), with the semantics every
/// persistent backend must match (the contract tests run against all).
/// `backup(to:)` writes a JSON file that `restore(from:)` reads; locks are
/// not part of a backup (a restored message is unlocked).
public final class InMemoryMessageStore: MessageStore {
    struct Stored {
        var message: Message
        var sequence: UInt64
        /// Milliseconds the message becomes visible at; orders the queue.
        var visibleAt: Int64
        var lock: (id: UUID, until: Date)?
    }
    struct State {
        var messages: [String: Stored] = [:]
        var catalog = EntityCatalog()
        /// Acknowledged ids still inside their duplicate window → window end.
        var recentlyRemoved: [String: Date] = [:]
        var next: UInt64 = 0
        var closed = false
    }
    let state = Mutex(State())
    private let clock: MessageClock
    /// Boundaries of served pages (InMemoryMessageStore+Paging.swift).
    let cursors = PageCursors<Position>()

    /// An empty store reading time from `clock`.
    public init(clock: MessageClock = .system) { self.clock = clock }

    public func initialize() async throws {}

    func locked<T>(_ body: (inout State) throws -> T) throws -> T {
        try state.withLock { s in
            if s.closed { throw MessageStoreError(.closed, "store is closed") }
            return try body(&s)
        }
    }

    // MARK: Core

    public func add(_ message: Message) async throws { try await add(contentsOf: [message]) }

    public func add(contentsOf messages: [Message]) async throws {
        let now = clock.now()
        try locked { s in try Self.insert(messages, into: &s, now: now) }
    }

    private static func insert(_ messages: [Message], into s: inout State, now: Date) throws {
        var seen = Set<String>()
        for m in messages {
            try validate(m)
            if s.messages[m.id] != nil || !seen.insert(m.id).inserted || (s.recentlyRemoved[m.id].map { $0 > now } ?? false) {
                throw MessageStoreError(.duplicateId, "a message with id \(m.id) is already stored")
            }
        }
        for var m in messages {
            if s.catalog.needsImplicitRegistration(m.queue) { s.catalog.queues[m.queue] = QueueSettings() }
            let settings = s.catalog.settings(of: m.queue)
            if m.expiresAt == nil, let ttl = settings.defaultTimeToLive { m.expiresAt = m.timestamp.adding(ttl) }
            s.recentlyRemoved[m.id] = nil
            s.messages[m.id] = Stored(message: m, sequence: s.next,
                                      visibleAt: (m.scheduledAt ?? m.timestamp).millisecondsSince1970)
            s.next += 1
        }
    }

    package static func validate(_ m: Message) throws {
        if m.id.isEmpty || m.queue.isEmpty { throw MessageStoreError(.invalidArgument, "message id and queue must not be empty") }
        if m.queue.utf8.count > 60_000 { throw MessageStoreError(.invalidArgument, "queue name longer than 60000 bytes") }
        if m.deliveryCount < 0 { throw MessageStoreError(.invalidArgument, "deliveryCount must not be negative") }
        // Keys and schedules hold milliseconds in 64 bits: stay far inside.
        for (name, d) in [("timestamp", m.timestamp), ("scheduledAt", m.scheduledAt), ("expiresAt", m.expiresAt)] {
            if let t = d?.timeIntervalSince1970, !(t.isFinite && abs(t) < 1e13) {
                throw MessageStoreError(.invalidArgument, "message \(m.id): \(name) \(t) is outside ±1e13 seconds of 1970")
            }
        }
    }

    public func get(id: String) async throws -> Message? {
        try locked { $0.messages[id]?.message }
    }

    public func remove(id: String) async throws {
        let now = clock.now()
        try locked { s in Self.drop(id, from: &s, now: now) }
    }

    /// Removes an acknowledged message, leaving a duplicate-window marker.
    private static func drop(_ id: String, from s: inout State, now: Date) {
        guard let stored = s.messages.removeValue(forKey: id) else { return }
        if let w = s.catalog.settings(of: stored.message.queue).duplicateDetectionWindow {
            let end = stored.message.timestamp.adding(w)
            if end > now { s.recentlyRemoved[id] = end }
        }
    }

    static func ordered(_ s: State, queue: String) -> [Stored] {
        s.messages.values.filter { $0.message.queue == queue }
            .sorted { ($0.visibleAt, $0.sequence) < ($1.visibleAt, $1.sequence) }
    }

    public func pending(queue: String, limit: Int) async throws -> [Message] {
        try locked { s in Self.ordered(s, queue: queue).prefix(max(0, limit)).map(\.message) }
    }

    public func recent(queue: String, limit: Int) async throws -> [Message] {
        try locked { s in Self.ordered(s, queue: queue).suffix(max(0, limit)).reversed().map(\.message) }
    }

    private struct Snapshot: Codable {
        var catalog: EntityCatalog
        var messages: [[UInt8]]  // MessageCodec records, in sequence order
    }

    public func backup(to path: String) async throws {
        let snap = try locked { s in
            Snapshot(catalog: s.catalog,
                     messages: s.messages.values.sorted { $0.sequence < $1.sequence }.map { MessageCodec.encode($0.message) })
        }
        guard !FileManager.default.fileExists(atPath: path) else {
            throw MessageStoreError(.invalidArgument, "backup target \(path) already exists")
        }
        try JSONEncoder().encode(snap).write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    public func restore(from path: String) async throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw MessageStoreError(.invalidArgument, "no backup at \(path)")
        }
        let snap: Snapshot
        do { snap = try JSONDecoder().decode(Snapshot.self, from: data) } catch {
            throw MessageStoreError(.corruption, "\(path): not a backup of an in-memory store (\(error))")
        }
        let messages = try snap.messages.map(MessageCodec.decode)
        try locked { s in
            s = State()
            s.catalog = snap.catalog
            for m in messages {
                s.messages[m.id] = Stored(message: m, sequence: s.next,
                                          visibleAt: (m.scheduledAt ?? m.timestamp).millisecondsSince1970)
                s.next += 1
            }
        }
    }

    public func compact() async throws {
        let now = clock.now()
        try locked { s in s.recentlyRemoved = s.recentlyRemoved.filter { $0.value > now } }
    }

    public func close() async throws {
        state.withLock { $0.closed = true }
    }

    // MARK: Entities

    public func createQueue(_ name: String, settings: QueueSettings) async throws {
        try EntityCatalog.validateName(name, "queue")
        try settings.validate()
        try locked { $0.catalog.queues[name] = settings }
    }

    public func deleteQueue(_ name: String) async throws {
        try locked { s in
            let dlq = EntityPath.deadLetterQueue(of: name)
            let hasMessages = s.messages.values.contains { $0.message.queue == name }
            guard s.catalog.queues.removeValue(forKey: name) != nil || hasMessages else {
                throw MessageStoreError(.notFound, "no queue \(name)")
            }
            s.messages = s.messages.filter { $0.value.message.queue != name && $0.value.message.queue != dlq }
        }
    }

    public func queues() async throws -> [QueueDescription] {
        try locked { s in s.catalog.queues.sorted { $0.key < $1.key }.map { QueueDescription(name: $0.key, settings: $0.value) } }
    }

    public func createTopic(_ name: String) async throws {
        try EntityCatalog.validateName(name, "topic")
        try locked { s in if s.catalog.topics[name] == nil { s.catalog.topics[name] = [:] } }
    }

    public func deleteTopic(_ name: String) async throws {
        try locked { s in
            guard let subs = s.catalog.topics.removeValue(forKey: name) else { throw MessageStoreError(.notFound, "no topic \(name)") }
            let gone = Set(subs.keys.flatMap {
                let q = EntityPath.subscriptionQueue(topic: name, subscription: $0)
                return [q, EntityPath.deadLetterQueue(of: q)]
            })
            s.messages = s.messages.filter { !gone.contains($0.value.message.queue) }
        }
    }

    public func topics() async throws -> [String] {
        try locked { $0.catalog.topics.keys.sorted() }
    }

    public func createSubscription(_ name: String, topic: String, settings: QueueSettings, filter: SubscriptionFilter) async throws {
        try EntityCatalog.validateName(name, "subscription")
        try settings.validate()
        try locked { s in
            guard s.catalog.topics[topic] != nil else { throw MessageStoreError(.notFound, "no topic \(topic)") }
            s.catalog.topics[topic]![name] = EntityCatalog.Subscription(settings: settings, filter: filter)
        }
    }

    public func deleteSubscription(_ name: String, topic: String) async throws {
        try locked { s in
            guard s.catalog.topics[topic]?.removeValue(forKey: name) != nil else {
                throw MessageStoreError(.notFound, "no subscription \(name) of topic \(topic)")
            }
            let q = EntityPath.subscriptionQueue(topic: topic, subscription: name)
            let dlq = EntityPath.deadLetterQueue(of: q)
            s.messages = s.messages.filter { $0.value.message.queue != q && $0.value.message.queue != dlq }
        }
    }

    public func subscriptions(topic: String) async throws -> [SubscriptionDescription] {
        try locked { s in
            guard let subs = s.catalog.topics[topic] else { throw MessageStoreError(.notFound, "no topic \(topic)") }
            return subs.sorted { $0.key < $1.key }.map {
                SubscriptionDescription(name: $0.key, topic: topic, settings: $0.value.settings, filter: $0.value.filter)
            }
        }
    }

    // MARK: Broker semantics

    public func publish(_ messages: [Message], topic: String) async throws -> Int {
        let now = clock.now()
        return try locked { s in
            let copies = try s.catalog.fanOut(messages, topic: topic)
            try Self.insert(copies, into: &s, now: now)
            return copies.count
        }
    }

    public func receive(queue: String, limit: Int, lockDuration: Duration?) async throws -> [ReceivedMessage] {
        let now = clock.now()
        return try locked { s in
            let settings = s.catalog.settings(of: queue)
            let duration = lockDuration ?? settings.lockDuration
            guard duration > .zero, duration <= QueueSettings.longest else { throw MessageStoreError(.invalidArgument, "lockDuration must be positive and at most ten years") }
            let isDLQ = EntityPath.isDeadLetterQueue(queue)
            var out: [ReceivedMessage] = []
            for stored in Self.ordered(s, queue: queue) where out.count < limit {
                if stored.visibleAt > now.millisecondsSince1970 { break }
                if let l = stored.lock, l.until > now { continue }
                let id = stored.message.id
                if !isDLQ, let e = stored.message.expiresAt, e <= now {
                    if settings.deadLetterOnExpiration { Self.moveToDeadLetter(id, reason: "TTLExpiredException", in: &s, now: now) }
                    else { Self.drop(id, from: &s, now: now) }
                    continue
                }
                if !isDLQ, stored.message.deliveryCount >= settings.maxDeliveryCount {
                    Self.moveToDeadLetter(id, reason: "MaxDeliveryCountExceeded", in: &s, now: now)
                    continue
                }
                let token = LockToken(id: UUID(), messageID: id, queue: queue)
                let until = now.adding(duration)
                s.messages[id]!.message.deliveryCount += 1
                s.messages[id]!.lock = (token.id, until)
                out.append(ReceivedMessage(message: s.messages[id]!.message, lockToken: token, lockedUntil: until))
            }
            return out
        }
    }

    private static func moveToDeadLetter(_ id: String, reason: String, in s: inout State, now: Date) {
        guard var stored = s.messages[id] else { return }
        stored.message.queue = EntityPath.deadLetterQueue(of: stored.message.queue)
        stored.message.headers[deadLetterReasonHeader] = reason
        stored.lock = nil
        stored.sequence = s.next
        stored.visibleAt = now.millisecondsSince1970
        s.next += 1
        s.messages[id] = stored
    }

    /// Throws `.lockLost` unless `token` holds a live lock.
    private static func checkLock(_ token: LockToken, in s: State, now: Date) throws {
        guard let stored = s.messages[token.messageID], stored.message.queue == token.queue,
              let l = stored.lock, l.id == token.id, l.until > now else {
            throw MessageStoreError(.lockLost, "\(token) is not held (expired, released or never issued)")
        }
    }

    public func complete(_ tokens: [LockToken]) async throws {
        let now = clock.now()
        try locked { s in
            for t in tokens { try Self.checkLock(t, in: s, now: now) }
            for t in tokens { Self.drop(t.messageID, from: &s, now: now) }
        }
    }

    public func abandon(_ token: LockToken) async throws {
        let now = clock.now()
        try locked { s in
            try Self.checkLock(token, in: s, now: now)
            s.messages[token.messageID]!.lock = nil
            let m = s.messages[token.messageID]!.message
            if !EntityPath.isDeadLetterQueue(m.queue), m.deliveryCount >= s.catalog.settings(of: m.queue).maxDeliveryCount {
                Self.moveToDeadLetter(m.id, reason: "MaxDeliveryCountExceeded", in: &s, now: now)
            }
        }
    }

    public func deadLetter(_ token: LockToken, reason: String) async throws {
        let now = clock.now()
        try locked { s in
            try Self.checkLock(token, in: s, now: now)
            Self.moveToDeadLetter(token.messageID, reason: reason, in: &s, now: now)
        }
    }

    public func renewLock(_ token: LockToken) async throws -> Date {
        let now = clock.now()
        return try locked { s in
            try Self.checkLock(token, in: s, now: now)
            let until = now.adding(s.catalog.settings(of: token.queue).lockDuration)
            s.messages[token.messageID]!.lock = (token.id, until)
            return until
        }
    }

    public func purge(queue: String) async throws -> Int {
        try locked { s in
            let before = s.messages.count
            s.messages = s.messages.filter { $0.value.message.queue != queue }
            return before - s.messages.count
        }
    }

    public func statistics(queue: String) async throws -> QueueStatistics {
        let now = clock.now()
        return try locked { s in
            var st = QueueStatistics()
            let dlq = EntityPath.deadLetterQueue(of: queue)
            var oldest: Date?
            for stored in s.messages.values {
                if stored.message.queue == dlq { st.deadLettered += 1 }
                guard stored.message.queue == queue else { continue }
                st.bytes += stored.message.payload.count
                if stored.visibleAt > now.millisecondsSince1970 { st.scheduled += 1 }
                else if let l = stored.lock, l.until > now { st.locked += 1 }
                else { st.active += 1 }
                oldest = min(oldest ?? stored.message.timestamp, stored.message.timestamp)
            }
            st.oldestAge = oldest.map { .milliseconds(max(0, now.millisecondsSince1970 - $0.millisecondsSince1970)) }
            return st
        }
    }
}
