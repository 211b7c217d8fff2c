import Foundation

/// The `MessageStore` operations of the JSON backend: each one changes the
/// in-memory state under the lock and marks the files it touched.
extension JSONFileMessageStore {
    public func initialize() async throws { _ = try read { _ in } }

    // MARK: Core

    public func add(_ message: Message) async throws { try await add(contentsOf: [message]) }

    public func add(contentsOf messages: [Message]) async throws {
        let now = clock.now()
        try await change { s in try Self.insert(messages, into: &s, now: now) }
    }

    public func get(id: String) async throws -> Message? {
        try read { s in Self.locate(id, in: s).map { s.queues[$0.queue]![$0.index].message } }
    }

    public func remove(id: String) async throws {
        let now = clock.now()
        try await change { s in Self.acknowledge(id, in: &s, now: now) }
    }

    public func pending(queue: String, limit: Int) async throws -> [Message] {
        try read { s in (s.queues[queue] ?? []).prefix(max(0, limit)).map(\.message) }
    }

    public func recent(queue: String, limit: Int) async throws -> [Message] {
        try read { s in (s.queues[queue] ?? []).suffix(max(0, limit)).reversed().map(\.message) }
    }

    /// Copies the directory's current files (after saving pending changes)
    /// to `path`, which must not exist; the copy opens as a JSON store.
    public func backup(to path: String) async throws {
        guard !FileManager.default.fileExists(atPath: path) else {
            throw MessageStoreError(.invalidArgument, "backup target \(path) already exists")
        }
        try await flushAll()
        // On the save queue: no save runs while the files are copied.
        let source = directory
        try await onSaveQueue { _ in
            do { try FileManager.default.copyItem(atPath: source, toPath: path) } catch {
                let full = (error as? CocoaError)?.code == .fileWriteOutOfSpace
                throw MessageStoreError(full ? .storageFull : .ioError, "cannot copy \(source) to \(path): \(error)", underlying: error)
            }
        }.wait()
    }

    /// Replaces the contents with the JSON store at `path` (read, checked,
    /// then saved here as one atomic change).
    public func restore(from path: String) async throws {
        guard FileManager.default.fileExists(atPath: path) else { throw MessageStoreError(.invalidArgument, "no backup at \(path)") }
        let source = try JSONFileMessageStore(directory: path, options: options)
        let loaded = try source.read { $0 }
        try await change { s in
            let old = Set(s.queues.keys)
            s.catalog = loaded.catalog
            s.queues = loaded.queues
            s.index = loaded.index
            s.removedIds = loaded.removedIds
            s.next = max(s.next, loaded.next)
            s.dirtyQueues = old.union(loaded.queues.keys)
            s.dirtyEntities = true
            s.dirtyState = true
        }
    }

    private func flushAll() async throws {
        try await change { _ in }
        if options.saveInterval != nil { try await flush() }
    }

    /// Drops duplicate-window markers whose window has closed.
    public func compact() async throws {
        let now = clock.now().millisecondsSince1970
        try await change { s in
            let before = s.removedIds.count
            s.removedIds = s.removedIds.filter { $0.value > now }
            if s.removedIds.count != before { s.dirtyState = true }
        }
    }

    /// Saves pending changes and releases the store.
    public func close() async throws {
        let open = state.withLock { !$0.closed }
        guard open else { return }
        try await flush()
        state.withLock { $0.closed = true }
    }

    // MARK: Entities

    public func createQueue(_ name: String, settings: QueueSettings) async throws {
        try EntityCatalog.validateName(name, "queue")
        try settings.validate()
        try await change { s in
            s.catalog.queues[name] = settings
            s.dirtyEntities = true
        }
    }

    private static func dropQueues(_ names: [String], in s: inout State) -> Int {
        var n = 0
        for q in names {
            guard let entries = s.queues.removeValue(forKey: q) else { continue }
            for e in entries { s.index[e.message.id] = nil }
            n += entries.count
            s.dirtyQueues.insert(q)
        }
        return n
    }

    public func deleteQueue(_ name: String) async throws {
        try await change { s in
            let known = s.catalog.queues.removeValue(forKey: name) != nil
            let n = Self.dropQueues([name, EntityPath.deadLetterQueue(of: name)], in: &s)
            guard known || n > 0 else { throw MessageStoreError(.notFound, "no queue \(name)") }
            s.dirtyEntities = true
        }
    }

    public func queues() async throws -> [QueueDescription] {
        try read { s in s.catalog.queues.sorted { $0.key < $1.key }.map { QueueDescription(name: $0.key, settings: $0.value) } }
    }

    public func createTopic(_ name: String) async throws {
        try EntityCatalog.validateName(name, "topic")
        try await change { s in
            if s.catalog.topics[name] == nil {
                s.catalog.topics[name] = [:]
                s.dirtyEntities = true
            }
        }
    }

    public func deleteTopic(_ name: String) async throws {
        try await change { s in
            guard let subs = s.catalog.topics.removeValue(forKey: name) else { throw MessageStoreError(.notFound, "no topic \(name)") }
            let qs = subs.keys.map { EntityPath.subscriptionQueue(topic: name, subscription: $0) }
            _ = Self.dropQueues(qs + qs.map(EntityPath.deadLetterQueue(of:)), in: &s)
            s.dirtyEntities = true
        }
    }

    public func topics() async throws -> [String] {
        try read { $0.catalog.topics.keys.sorted() }
    }

    public func createSubscription(_ name: String, topic: String, settings: QueueSettings, filter: SubscriptionFilter) async throws {
        try EntityCatalog.validateName(name, "subscription")
        try settings.validate()
        try await change { s in
            guard s.catalog.topics[topic] != nil else { throw MessageStoreError(.notFound, "no topic \(topic)") }
            s.catalog.topics[topic]![name] = EntityCatalog.Subscription(settings: settings, filter: filter)
            s.dirtyEntities = true
        }
    }

    public func deleteSubscription(_ name: String, topic: String) async throws {
        try await change { s in
            guard s.catalog.topics[topic]?.removeValue(forKey: name) != nil else {
                throw MessageStoreError(.notFound, "no subscription \(name) of topic \(topic)")
            }
            let q = EntityPath.subscriptionQueue(topic: topic, subscription: name)
            _ = Self.dropQueues([q, EntityPath.deadLetterQueue(of: q)], in: &s)
            s.dirtyEntities = true
        }
    }

    public func subscriptions(topic: String) async throws -> [SubscriptionDescription] {
        try read { s in
            guard let subs = s.catalog.topics[topic] else { throw MessageStoreError(.notFound, "no topic \(topic)") }
            return subs.sorted { $0.key < $1.key }.map {
                SubscriptionDescription(name: $0.key, topic: topic, settings: $0.value.settings, filter: $0.value.filter)
            }
        }
    }

    // MARK: Broker semantics

    public func publish(_ messages: [Message], topic: String) async throws -> Int {
        let now = clock.now()
        return try await change { s in
            let copies = try s.catalog.fanOut(messages, topic: topic)
            try Self.insert(copies, into: &s, now: now)
            return copies.count
        }
    }

    public func receive(queue: String, limit: Int, lockDuration: Duration?) async throws -> [ReceivedMessage] {
        let now = clock.now()
        let nowMs = now.millisecondsSince1970
        return try await change { s in
            let settings = s.catalog.settings(of: queue)
            let until = nowMs + (try BrokerPolicy.lockDuration(lockDuration, settings)).milliseconds
            var out: [ReceivedMessage] = []
            var i = 0
            while out.count < limit, i < s.queues[queue]?.count ?? 0 {
                let e = s.queues[queue]![i]
                if e.visibleAt > nowMs { break }
                if let l = e.lock, l.until > nowMs {
                    i += 1
                    continue
                }
                switch BrokerPolicy.onReceive(e.message, queue: queue, settings, now: now) {
                case .drop:
                    Self.acknowledge(e.message.id, in: &s, now: now)
                case .deadLetter(let reason):
                    Self.moveToDeadLetter(e.message.id, reason: reason, in: &s, now: now)
                case .deliver:
                    let token = LockToken(id: UUID(), messageID: e.message.id, queue: queue)
                    s.queues[queue]![i].message.deliveryCount += 1
                    s.queues[queue]![i].lock = (token.id, until)
                    s.dirtyQueues.insert(queue)
                    out.append(ReceivedMessage(message: s.queues[queue]![i].message, lockToken: token,
                                               lockedUntil: Date(timeIntervalSince1970: Double(until) / 1000)))
                    i += 1
                }
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

    public func complete(_ tokens: [LockToken]) async throws {
        let now = clock.now()
        try await change { s in
            for t in tokens { _ = try Self.held(t, in: s, now: now) }
            for t in tokens { Self.acknowledge(t.messageID, in: &s, now: now) }
        }
    }

    public func abandon(_ token: LockToken) async throws {
        let now = clock.now()
        try await change { s in
            let (q, i) = try Self.held(token, in: s, now: now)
            s.queues[q]![i].lock = nil
            s.dirtyQueues.insert(q)
            s.arrived.insert(q)
            let m = s.queues[q]![i].message
            if let reason = BrokerPolicy.onAbandon(m, queue: q, s.catalog.settings(of: q)) {
                Self.moveToDeadLetter(m.id, reason: reason, in: &s, now: now)
            }
        }
    }

    public func deadLetter(_ token: LockToken, reason: String) async throws {
        let now = clock.now()
        try await change { s in
            _ = try Self.held(token, in: s, now: now)
            Self.moveToDeadLetter(token.messageID, reason: reason, in: &s, now: now)
        }
    }

    public func renewLock(_ token: LockToken) async throws -> Date {
        let now = clock.now()
        return try await change { s in
            let (q, i) = try Self.held(token, in: s, now: now)
            let until = now.millisecondsSince1970 + s.catalog.settings(of: q).lockDuration.milliseconds
            s.queues[q]![i].lock = (token.id, until)
            s.dirtyQueues.insert(q)
            return Date(timeIntervalSince1970: Double(until) / 1000)
        }
    }

    public func purge(queue: String) async throws -> Int {
        try await change { s in Self.dropQueues([queue], in: &s) }
    }

    public func statistics(queue: String) async throws -> QueueStatistics {
        let now = clock.now().millisecondsSince1970
        return try read { s in
            var st = QueueStatistics()
            st.deadLettered = s.queues[EntityPath.deadLetterQueue(of: queue)]?.count ?? 0
            var oldest: Int64?
            for e in s.queues[queue] ?? [] {
                st.bytes += e.message.payload.count
                if e.visibleAt > now { st.scheduled += 1 } else if let l = e.lock, l.until > now { st.locked += 1 } else { st.active += 1 }
                let t = e.message.timestamp.millisecondsSince1970
                oldest = min(oldest ?? t, t)
            }
            st.oldestAge = oldest.map { .milliseconds(max(0, now - $0)) }
            return st
        }
    }
}
