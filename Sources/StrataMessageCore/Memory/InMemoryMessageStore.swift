import Foundation

/// The reference implementation: everything in memory, with the semantics
/// every persistent backend must match (the contract and differential tests
/// run against all). Written to stay obvious: one lock around one `State`;
/// each queue is a `QueueIndex` (messages by position for pending/recent, a
/// heap of unlocked messages for receive, a heap of lock ends), so every
/// per-message operation is O(log n) amortised. Long polls wake on arrival.
/// `backup(to:)` writes a JSON file that `restore(from:)` reads; locks are
/// not part of a backup (a restored message is unlocked).
public final class InMemoryMessageStore: MessageStore {
    struct Stored {
        var message: Message
        var position: QueuePosition
        var lock: (id: UUID, until: Date)?
    }
    struct State {
        var messages: [String: Stored] = [:]
        var queues: [String: QueueIndex] = [:]
        var catalog = EntityCatalog()
        /// Acknowledged ids still inside their duplicate window → window end.
        var recentlyRemoved: [String: Date] = [:]
        var next: UInt64 = 0
        var closed = false
        /// Queues that got a deliverable message under the current lock
        /// (their long polls are woken after it is released).
        var arrived: ArrivalCounts = []
    }
    let state = StoreLock(State())
    /// Boundaries of served pages (InMemoryMessageStore+Paging.swift).
    let cursors = PageCursors<QueuePosition>()
    private let clock: MessageClock
    private let arrivals = QueueSignals()
    /// Named snapshots (InMemoryMessageStore+Snapshots.swift).
    let snapshotShelf = StoreLock(InMemorySnapshotShelf())

    /// An empty store reading time from `clock`.
    public init(clock: MessageClock = .system) { self.clock = clock }

    public func initialize() async throws {}

    func locked<T>(_ body: (inout State) throws -> T) throws -> T {
        let (result, arrived) = try state.withLock { s in
            if s.closed { throw MessageStoreError(.closed, "store is closed") }
            defer { s.arrived = [] }
            return (try body(&s), s.arrived)
        }
        if !arrived.isEmpty { arrivals.wake(arrived) }
        return result
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
            try s.catalog.validateAddTarget(m.queue)
            if s.messages[m.id] != nil || !seen.insert(m.id).inserted || (s.recentlyRemoved[m.id].map { $0 > now } ?? false) {
                throw MessageStoreError(.duplicateId, "a message with id \(m.id) is already stored")
            }
        }
        for var m in messages {
            if s.catalog.needsImplicitRegistration(m.queue) { s.catalog.queues[m.queue] = QueueSettings() }
            let settings = s.catalog.settings(of: m.queue)
            if m.expiresAt == nil, let ttl = settings.defaultTimeToLive { m.expiresAt = m.timestamp.adding(ttl) }
            s.recentlyRemoved[m.id] = nil
            place(m, visibleAt: (m.scheduledAt ?? m.timestamp).millisecondsSince1970, in: &s)
        }
    }

    /// Stores `m` (not stored under its id yet) at the end of its visibility
    /// millisecond, unlocked.
    private static func place(_ m: Message, visibleAt: Int64, in s: inout State) {
        let p = QueuePosition(visibleAt: visibleAt, sequence: s.next)
        s.next += 1
        s.messages[m.id] = Stored(message: m, position: p)
        s.queues[m.queue, default: QueueIndex()].insert(p, id: m.id)
        s.arrived.insert(m.queue)
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
        guard let stored = unlink(id, from: &s) else { return }
        if let w = s.catalog.settings(of: stored.message.queue).duplicateDetectionWindow {
            let end = stored.message.timestamp.adding(w)
            if end > now { s.recentlyRemoved[id] = end }
        }
    }

    /// Takes the message out of the store and its queue's index.
    private static func unlink(_ id: String, from s: inout State) -> Stored? {
        guard let stored = s.messages.removeValue(forKey: id) else { return nil }
        s.queues[stored.message.queue]?.remove(stored.position)
        return stored
    }

    public func pending(queue: String, limit: Int) async throws -> [Message] {
        try locked { s in (s.queues[queue]?.oldest(max(0, limit)) ?? []).map { s.messages[$0]!.message } }
    }

    public func recent(queue: String, limit: Int) async throws -> [Message] {
        try locked { s in (s.queues[queue]?.newest(max(0, limit)) ?? []).map { s.messages[$0]!.message } }
    }

    private struct Snapshot: Codable {
        var catalog: EntityCatalog
        var messages: [[UInt8]]  // MessageCodec records, in arrival order
    }

    public func backup(to path: String) async throws {
        let snap = try locked { s in
            Snapshot(catalog: s.catalog,
                     messages: s.messages.values.sorted { $0.position.sequence < $1.position.sequence }.map { MessageCodec.encode($0.message) })
        }
        guard !FileManager.default.fileExists(atPath: path) else {
            throw MessageStoreError(.invalidArgument, "backup target \(path) already exists")
        }
        try JSONEncoder().encode(snap).write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    public func restore(from path: String) async throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw MessageStoreError(.notFound, "no backup at \(path)")
        }
        let snap: Snapshot
        do { snap = try JSONDecoder().decode(Snapshot.self, from: data) } catch {
            throw MessageStoreError(.corruption, "\(path): not a backup of an in-memory store (\(error))")
        }
        let messages = try snap.messages.map(MessageCodec.decode)
        try locked { s in
            s = State()
            s.catalog = snap.catalog
            for m in messages { Self.place(m, visibleAt: (m.scheduledAt ?? m.timestamp).millisecondsSince1970, in: &s) }
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

    /// Removes every message of `queues`; returns how many.
    private static func deleteMessages(of queues: [String], in s: inout State) -> Int {
        var n = 0
        for q in queues {
            guard let index = s.queues.removeValue(forKey: q) else { continue }
            for id in index.allIds { s.messages[id] = nil }
            n += index.live
        }
        return n
    }

    public func createQueue(_ name: String, settings: QueueSettings) async throws {
        try EntityCatalog.validateName(name, "queue")
        try settings.validate()
        try locked { $0.catalog.queues[name] = settings }
    }

    public func deleteQueue(_ name: String) async throws {
        try locked { s in
            let known = s.catalog.queues.removeValue(forKey: name) != nil
            let n = Self.deleteMessages(of: [name, EntityPath.deadLetterQueue(of: name)], in: &s)
            guard known || n > 0 else { throw MessageStoreError(.notFound, "no queue \(name)") }
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
            let qs = subs.keys.map { EntityPath.subscriptionQueue(topic: name, subscription: $0) }
            _ = Self.deleteMessages(of: qs + qs.map(EntityPath.deadLetterQueue(of:)), in: &s)
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
            _ = Self.deleteMessages(of: [q, EntityPath.deadLetterQueue(of: q)], in: &s)
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
        let nowMs = now.millisecondsSince1970
        return try locked { s in
            let settings = s.catalog.settings(of: queue)
            let duration = lockDuration ?? settings.lockDuration
            guard duration > .zero, duration <= QueueSettings.longest else { throw MessageStoreError(.invalidArgument, "lockDuration must be positive and at most ten years") }
            guard limit > 0, var index = s.queues.removeValue(forKey: queue) else { return [] }
            defer { s.queues[queue] = index }
            // Locks that have ended make their messages candidates again.
            while let l = index.locks.min, l.until <= nowMs {
                index.locks.popMin()
                // Stale unless the message still holds this very lock and a
                // renewal has not moved its end (renewals push a new entry).
                if let stored = s.messages[l.id], stored.position == l.position, let held = stored.lock, held.id == l.lock, held.until <= now {
                    s.messages[l.id]!.lock = nil
                    index.ready.push(QueueIndex.Candidate(position: l.position, id: l.id))
                }
            }
            let isDLQ = EntityPath.isDeadLetterQueue(queue)
            var out: [ReceivedMessage] = []
            while out.count < limit, let c = index.ready.min {
                // The oldest unlocked message; later ones are no more visible.
                guard let stored = s.messages[c.id], stored.position == c.position, stored.message.queue == queue, stored.lock == nil else {
                    index.ready.popMin()  // acknowledged, moved or locked since it was pushed
                    continue
                }
                if c.position.visibleAt > nowMs { break }
                index.ready.popMin()
                let id = c.id
                if !isDLQ, let e = stored.message.expiresAt, e <= now {
                    index.remove(c.position)
                    s.messages[id] = nil
                    if settings.deadLetterOnExpiration { Self.moveToDeadLetter(stored, reason: "TTLExpiredException", in: &s, now: now) }
                    else { Self.rememberWindow(stored, in: &s, now: now) }
                    continue
                }
                if !isDLQ, stored.message.deliveryCount >= settings.maxDeliveryCount {
                    index.remove(c.position)
                    s.messages[id] = nil
                    Self.moveToDeadLetter(stored, reason: "MaxDeliveryCountExceeded", in: &s, now: now)
                    continue
                }
                let token = LockToken(id: UUID(), messageID: id, queue: queue)
                let until = now.adding(duration)
                s.messages[id]!.message.deliveryCount += 1
                s.messages[id]!.lock = (token.id, until)
                index.locks.push(QueueIndex.LockEnd(until: until.millisecondsSince1970, position: c.position, id: id, lock: token.id))
                out.append(ReceivedMessage(message: s.messages[id]!.message, lockToken: token, lockedUntil: until))
            }
            return out
        }
    }

    public func receive(queue: String, limit: Int, lockDuration: Duration?, maxWait: Duration) async throws -> [ReceivedMessage] {
        // Woken by arrivals (adds, publishes, abandons, dead letters) in
        // `queue`; at most 50 ms between tries for lock ends and schedules.
        try await longPoll(maxWait: maxWait, signal: { arrivals.signal(for: queue) }) {
            try await receive(queue: queue, limit: limit, lockDuration: lockDuration)
        }
    }

    /// Leaves the duplicate-window marker of a message that left the store.
    private static func rememberWindow(_ stored: Stored, in s: inout State, now: Date) {
        if let w = s.catalog.settings(of: stored.message.queue).duplicateDetectionWindow {
            let end = stored.message.timestamp.adding(w)
            if end > now { s.recentlyRemoved[stored.message.id] = end }
        }
    }

    /// Stores `stored`'s message (already taken out of its queue) at the
    /// end of its queue's dead-letter queue, unlocked, with `reason`.
    private static func moveToDeadLetter(_ stored: Stored, reason: String, in s: inout State, now: Date) {
        var m = stored.message
        m.queue = EntityPath.deadLetterQueue(of: m.queue)
        m.headers[deadLetterReasonHeader] = reason
        place(m, visibleAt: now.millisecondsSince1970, in: &s)
    }

    /// The stored message `token` holds a live lock on, or `.lockLost`.
    private static func held(_ token: LockToken, in s: State, now: Date) throws -> Stored {
        guard let stored = s.messages[token.messageID], stored.message.queue == token.queue,
              let l = stored.lock, l.id == token.id, l.until > now else {
            throw MessageStoreError(.lockLost, "\(token) is not held (expired, released or never issued)")
        }
        return stored
    }

    public func complete(_ tokens: [LockToken]) async throws {
        let now = clock.now()
        try locked { s in
            for t in tokens { _ = try Self.held(t, in: s, now: now) }
            for t in tokens { Self.drop(t.messageID, from: &s, now: now) }
        }
    }

    public func abandon(_ token: LockToken) async throws {
        let now = clock.now()
        try locked { s in
            let stored = try Self.held(token, in: s, now: now)
            let m = stored.message
            if !EntityPath.isDeadLetterQueue(m.queue), m.deliveryCount >= s.catalog.settings(of: m.queue).maxDeliveryCount {
                _ = Self.unlink(m.id, from: &s)
                Self.moveToDeadLetter(stored, reason: "MaxDeliveryCountExceeded", in: &s, now: now)
            } else {
                s.messages[m.id]!.lock = nil
                s.queues[m.queue]?.ready.push(QueueIndex.Candidate(position: stored.position, id: m.id))
                s.arrived.insert(m.queue)
            }
        }
    }

    public func deadLetter(_ token: LockToken, reason: String) async throws {
        let now = clock.now()
        try locked { s in
            let stored = try Self.held(token, in: s, now: now)
            _ = Self.unlink(stored.message.id, from: &s)
            Self.moveToDeadLetter(stored, reason: reason, in: &s, now: now)
        }
    }

    public func renewLock(_ token: LockToken) async throws -> Date {
        let now = clock.now()
        return try locked { s in
            let stored = try Self.held(token, in: s, now: now)
            let until = now.adding(s.catalog.settings(of: token.queue).lockDuration)
            s.messages[token.messageID]!.lock = (token.id, until)
            s.queues[token.queue]?.locks.push(QueueIndex.LockEnd(until: until.millisecondsSince1970, position: stored.position,
                                                                 id: token.messageID, lock: token.id))
            return until
        }
    }

    public func purge(queue: String) async throws -> Int {
        try locked { s in Self.deleteMessages(of: [queue], in: &s) }
    }

    public func statistics(queue: String) async throws -> QueueStatistics {
        let now = clock.now()
        let nowMs = now.millisecondsSince1970
        return try locked { s in
            var st = QueueStatistics()
            st.deadLettered = s.queues[EntityPath.deadLetterQueue(of: queue)]?.live ?? 0
            var oldest: Date?
            for id in s.queues[queue]?.allIds ?? [] {
                let stored = s.messages[id]!
                st.bytes += stored.message.payload.count
                if stored.position.visibleAt > nowMs { st.scheduled += 1 }
                else if let l = stored.lock, l.until > now { st.locked += 1 }
                else { st.active += 1 }
                oldest = min(oldest ?? stored.message.timestamp, stored.message.timestamp)
            }
            st.oldestAge = oldest.map { .milliseconds(max(0, nowMs - $0.millisecondsSince1970)) }
            return st
        }
    }
}

extension InMemoryMessageStore: DuplicateWindowExport {
    /// Every id still inside its duplicate window, ordered by id.
    public func duplicateWindowMarkers() async throws -> [DuplicateWindowMarker] {
        let now = clock.now()
        return try locked { s in
            s.recentlyRemoved.filter { $0.value > now }.sorted { $0.key < $1.key }.map { DuplicateWindowMarker(id: $0.key, until: $0.value) }
        }
    }

    /// Records `markers`; an id stored as a message keeps its message.
    public func recordDuplicateWindowMarkers(_ markers: [DuplicateWindowMarker]) async throws {
        try locked { s in
            for m in markers where s.messages[m.id] == nil { s.recentlyRemoved[m.id] = m.until }
        }
    }

    /// Forgets every marker.
    public func clearDuplicateWindowMarkers() async throws {
        try locked { s in s.recentlyRemoved.removeAll() }
    }
}
