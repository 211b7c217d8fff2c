import Foundation
import CoreMetrics
import Logging
import Strata
import Synchronization

/// Options of the LSM message store.
public struct MessageStoreOptions: Sendable {
    /// Commit mode of every write (adds, locks, acks).
    public var commitMode: CommitMode = .syncDurable
    /// Options of the underlying engine. Its `writeBufferSize`,
    /// `compression`, `blockSize` and `bloomBitsPerKey` also become the
    /// options of the store's four column families when they are created.
    public var engine: Options = Options()
    /// Per-family options that replace the ones derived from `engine`, by
    /// family name (`LSMMessageStore.familyNames`: "messages", "delivery",
    /// "ids", "entities"). Applied when a family is created; an existing
    /// family keeps the options recorded in its MANIFEST.
    public var columnFamilyOptions: [String: ColumnFamilyOptions] = [:]
    /// Where the store reads the time (locks, schedules, expiry, windows).
    public var clock: MessageClock = .system
    /// Memory for cached messages across all queues (LRU by queue).
    public var cacheBudgetBytes: Int = 64 << 20
    /// How many of each queue's newest messages `recent(queue:limit:)`
    /// serves from memory.
    public var recentMessagesPerQueue: Int = 64
    /// A queue writes a range delete over its acknowledged prefix (and
    /// records its head) after this many acknowledgements.
    public var rangeDeleteInterval: Int = 1024
    /// Logs opens, closes, restores, purges and errors.
    public var logger: Logger = Logger(label: "strata.messagestore")
    /// Named snapshots: directory (nil = `<path>.snapshots`) and retention.
    public var snapshots = SnapshotOptions()
    /// Where the store's metrics (and the engine's, unless
    /// `engine.metricsFactory` names another) go; nil = the global factory.
    public var metricsFactory: (any MetricsFactory)?
    /// Default options.
    public init() {}
}

/// Cache counters of an LSM store.
public struct MessageCacheStatistics: Sendable, Equatable {
    /// Receives served from memory.
    public var hits: Int
    /// Receives that had to read the engine first.
    public var misses: Int
    /// `recent` reads served from memory.
    public var recentHits: Int
    /// `recent` reads that had to read the engine.
    public var recentMisses: Int
    /// Bytes of messages held in memory now.
    public var bytes: Int
    /// hits / (hits + misses), 0 when nothing was received.
    public var hitRate: Double { hits + misses == 0 ? 0 : Double(hits) / Double(hits + misses) }
}

/// The message store on the Strata engine (Docs/message-store.md has the
/// layout byte by byte). Four column families: `messages` under
/// order-preserving `queue | visible-at | sequence` keys, so a queue is one
/// contiguous key range read oldest first; `delivery` (delivery count and
/// lock of messages received at least once, same keys); `ids` (message id →
/// key, or a duplicate-window marker after the ack); `entities` (queue and
/// topic settings, queue heads). Every state change is one atomic batch
/// written with the store's commit mode before the call returns; concurrent
/// callers share group commits. Each queue keeps a window of its oldest
/// messages in memory, so receives are served from memory, the head is
/// known exactly and scans start above acknowledged keys.
public final class LSMMessageStore: MessageStore {
    let path: String
    let options: MessageStoreOptions
    var clock: MessageClock { options.clock }
    let state: StoreLock<Opened?>
    let catalog = StoreLock(EntityCatalog())
    let runtimes = StoreLock<[String: QueueRuntime]>([:])
    /// Ids whose add is in flight: reserved before the duplicate check and
    /// released after the write, so two concurrent adds of one id cannot
    /// both pass the check.
    let inFlightIds = StoreLock<Set<String>>([])
    /// Orders messages that share a visibility millisecond.
    let sequence = Atomic<UInt64>(0)
    let useCounter = Atomic<UInt64>(0)
    /// Bytes the cache grew by since the budget was last enforced.
    let cacheGrowth = Atomic<Int>(0)
    let cacheHits = Atomic<Int>(0)
    let cacheMisses = Atomic<Int>(0)
    let recentHits = Atomic<Int>(0)
    let recentMisses = Atomic<Int>(0)
    /// Lock tokens: a random half per open store and a counter half, so
    /// tokens are unique without reading the system's random source per
    /// receive (Foundation's `UUID()` opens /dev/urandom every time).
    let tokenSalt = UInt64.random(in: .min ... .max)
    let tokenCounter = Atomic<UInt64>(0)
    /// Boundaries of served pages (LSMMessageStore+Paging.swift).
    let cursors = PageCursors<[UInt8]>()
    let metrics: MessageStoreMetrics
    /// Named snapshots' settings (LSMMessageStore+Snapshots.swift).
    let snapshotSettings: SnapshotSettings

    /// The names of the store's column families (keys of
    /// `MessageStoreOptions.columnFamilyOptions`).
    public static let familyNames = ["messages", "delivery", "ids", "entities"]

    struct Opened: Sendable {
        let db: Database
        let messages: ColumnFamily
        let ids: ColumnFamily
        let delivery: ColumnFamily
        let entities: ColumnFamily
    }

    private init(path: String, options: MessageStoreOptions, opened: Opened, catalog: EntityCatalog) {
        self.path = path
        self.options = options
        self.snapshotSettings = SnapshotSettings(options.snapshots, defaultDirectory: path + ".snapshots")
        self.metrics = MessageStoreMetrics(factory: options.metricsFactory)
        self.state = StoreLock(opened)
        self.catalog.withLock { $0 = catalog }
        // Above every sequence used before: each stored message took at least
        // two engine sequence numbers, and the engine's only grows.
        sequence.store(UInt64(opened.db.property("strata.last-sequence") ?? "0") ?? 0, ordering: .relaxed)
    }

    /// Opens (creating if needed) a store at `path`.
    public static func open(at path: String, options: MessageStoreOptions = MessageStoreOptions()) async throws -> LSMMessageStore {
        let (opened, catalog) = try mappingEngineErrors {
            try completeInterruptedRestore(path, options.engine.fileSystem, options)
            let opened = try openEngine(path, options)
            return (opened, try loadCatalog(opened))
        }
        let store = LSMMessageStore(path: path, options: options, opened: opened, catalog: catalog)
        options.logger.info("message store opened", metadata: ["path": "\(path)"])
        return store
    }

    static func openEngine(_ path: String, _ options: MessageStoreOptions) throws -> Opened {
        var engine = options.engine
        if engine.metricsFactory == nil { engine.metricsFactory = options.metricsFactory }
        let db = try Database.open(at: path, options: engine)
        let derived = ColumnFamilyOptions(inheriting: engine)
        func family(_ name: String) throws -> ColumnFamily {
            try db.family(name, creatingWith: options.columnFamilyOptions[name] ?? derived)
        }
        return Opened(db: db, messages: try family("messages"), ids: try family("ids"),
                      delivery: try family("delivery"), entities: try family("entities"))
    }

    static func loadCatalog(_ o: Opened) throws -> EntityCatalog {
        var c = EntityCatalog()
        let it = try o.db.makeIterator(in: o.entities)
        it.seekToFirst()
        let decoder = JSONDecoder()
        while it.isValid {
            let k = it.key
            guard let tag = k.first, let name = String(validating: k.dropFirst(), as: UTF8.self) else {
                it.next()
                continue
            }
            do {
                switch tag {
                case UInt8(ascii: "q"): c.queues[name] = try decoder.decode(QueueSettings.self, from: Data(it.value))
                case UInt8(ascii: "t"): c.topics[name] = try decoder.decode([String: EntityCatalog.Subscription].self, from: Data(it.value))
                default: break
                }
            } catch {
                throw MessageStoreError(.corruption, "\(o.db.path): entity record \(name) is undecodable: \(error)")
            }
            it.next()
        }
        try it.checkStatus()
        return c
    }

    func opened() throws -> Opened {
        guard let o = state.withLock({ $0 }) else { throw MessageStoreError(.closed, "store at \(path) is closed") }
        return o
    }

    func newLockID() -> UUID {
        let n = tokenCounter.add(1, ordering: .relaxed).newValue
        let a = tokenSalt, b = n &* 0x9E37_79B9_7F4A_7C15 ^ tokenSalt.byteSwapped
        func byte(_ v: UInt64, _ i: Int) -> UInt8 { UInt8(truncatingIfNeeded: v >> UInt64(8 * i)) }
        return UUID(uuid: (byte(a, 0), byte(a, 1), byte(a, 2), byte(a, 3), byte(a, 4), byte(a, 5), byte(a, 6), byte(a, 7),
                           byte(b, 0), byte(b, 1), byte(b, 2), byte(b, 3), byte(b, 4), byte(b, 5), byte(b, 6), byte(b, 7)))
    }

    var writeOptions: WriteOptions { WriteOptions(commitMode: options.commitMode) }

    /// Writes `batch`, counting failures.
    func write(_ batch: WriteBatch, _ o: Opened) async throws {
        do {
            try await o.db.write(batch, options: writeOptions)
        } catch {
            metrics.errors.increment()
            options.logger.error("message store write failed", metadata: ["error": "\(error)"])
            if let e = error as? StrataError { throw MessageStoreError(engine: e) }
            throw error
        }
    }

    /// The runtime of `queue`, created (with its persisted head) on first use.
    func runtime(_ queue: String, _ o: Opened) throws -> QueueRuntime {
        let use = useCounter.add(1, ordering: .relaxed).newValue
        if let rt = runtimes.withLock({ $0[queue] }) {
            rt.lastUse.store(use, ordering: .relaxed)
            return rt
        }
        let head = try mappingEngineErrors { try o.db.get([UInt8(ascii: "h")] + MessageCodec.queuePrefix(queue), in: o.entities) }
        let rt = runtimes.withLock { map in
            if let existing = map[queue] { return existing }
            let rt = QueueRuntime(name: queue, persistedHead: head, recentCapacity: options.recentMessagesPerQueue)
            map[queue] = rt
            return rt
        }
        rt.lastUse.store(use, ordering: .relaxed)
        return rt
    }

    public func initialize() async throws { _ = try opened() }

    // MARK: Core

    public func add(_ message: Message) async throws {
        try await add(contentsOf: [message])
    }

    public func add(contentsOf messages: [Message]) async throws {
        let start = MessageStoreMetrics.now
        try await insert(messages)
        metrics.added.increment(by: messages.count)
        for m in messages { metrics.payloadBytes.record(m.payload.count) }
        metrics.addLatency.recordNanoseconds(MessageStoreMetrics.since(start))
    }

    /// Stores `messages` atomically after the duplicate check.
    func insert(_ messages: [Message]) async throws {
        let o = try opened()
        let now = clock.now()
        for m in messages { try InMemoryMessageStore.validate(m) }
        // One message per call is the common case: no sets to build for it.
        let targets = messages.count == 1 ? [messages[0].queue] : Array(Set(messages.map(\.queue)))
        let unregistered = try catalog.withLock { c -> [String] in
            for q in targets { try c.validateAddTarget(q) }
            return targets.filter { c.needsImplicitRegistration($0) }
        }
        for q in unregistered { try saveQueue(q, QueueSettings(), o, onlyIfAbsent: true) }
        let ids = messages.map(\.id)
        try inFlightIds.withLock { reserved in
            // Repeats inside the batch need a set only when it has several ids.
            var seen = Set<String>()
            for id in ids where reserved.contains(id) || (ids.count > 1 && !seen.insert(id).inserted) {
                throw MessageStoreError(.duplicateId, "a message with id \(id) is already stored")
            }
            reserved.formUnion(ids)
        }
        defer { inFlightIds.withLock { $0.subtract(ids) } }
        for m in messages where try isDuplicate(m.id, now: now, o) {
            throw MessageStoreError(.duplicateId, "a message with id \(m.id) is already stored or inside its duplicate window")
        }
        var batch = WriteBatch(reservingCapacity: messages.reduce(0) { $0 + $1.payload.count + 2 * ($1.id.utf8.count + $1.queue.utf8.count) + 120 })
        var registered: [(QueueRuntime, [UInt8])] = []
        registered.reserveCapacity(messages.count)
        // Batches usually target one queue: look its runtime and settings up once.
        var current: (queue: String, rt: QueueRuntime, settings: QueueSettings)?
        for var m in messages {
            if current?.queue != m.queue {
                current = (m.queue, try runtime(m.queue, o), catalog.withLock { $0.settings(of: m.queue) })
            }
            let rt = current!.rt
            m = try BrokerPolicy.admit(m, current!.settings)
            let key = rt.window.withLock { w in
                let ms = max((m.scheduledAt ?? m.timestamp).millisecondsSince1970, w.persistedHeadMs)
                let key = MessageCodec.key(prefix: rt.prefix, milliseconds: ms,
                                           sequence: sequence.add(1, ordering: .relaxed).newValue)
                w.registerAdd(key: key, message: m)
                return key
            }
            batch.put(key, MessageCodec.encode(m), in: o.messages)
            batch.put(Array(m.id.utf8), MessageCodec.encode(.stored(key: key)), in: o.ids)
            registered.append((rt, key))
        }
        do {
            try await write(batch, o)
        } catch {
            for (rt, key) in registered { rt.window.withLock { $0.finishAdd(key: key, ok: false) } }
            throw error
        }
        // One waiting receiver woken per message, after its run of the
        // batch has landed.
        var run: (rt: QueueRuntime, count: Int)?
        for (rt, key) in registered {
            rt.window.withLock { $0.finishAdd(key: key, ok: true) }
            if let r = run, r.rt !== rt { r.rt.arrivals.signal(count: r.count); run = nil }
            run = (rt, (run?.count ?? 0) + 1)
        }
        if let r = run { r.rt.arrivals.signal(count: r.count) }
        noteCacheGrowth(messages.reduce(0) { $0 + $1.payload.count + 128 })
        enforceCacheBudgetIfGrown()
    }

    /// Whether `id` is stored or inside a duplicate window at `now`.
    func isDuplicate(_ id: String, now: Date, _ o: Opened) throws -> Bool {
        try mappingEngineErrors {
            guard let raw = try o.db.get(Array(id.utf8), in: o.ids) else { return false }
            switch try MessageCodec.decodeIdEntry(raw) {
            case .stored(let key): return try o.db.get(key, in: o.messages) != nil  // purged messages leave dangling entries
            case .removed(let end): return end > now.millisecondsSince1970
            }
        }
    }

    /// The stored message at `key`, with its current delivery count.
    func load(key: [UInt8], _ o: Opened) throws -> Message? {
        try mappingEngineErrors {
            guard let value = try o.db.get(key, in: o.messages) else { return nil }
            var m = try MessageCodec.decode(value)
            if let d = try o.db.get(key, in: o.delivery) { m.deliveryCount = try MessageCodec.decodeDelivery(d).count }
            return m
        }
    }

    /// The key the id index holds for `id`, if it is stored.
    func storedKey(of id: String, _ o: Opened) throws -> [UInt8]? {
        try mappingEngineErrors {
            guard let raw = try o.db.get(Array(id.utf8), in: o.ids),
                  case .stored(let key) = try MessageCodec.decodeIdEntry(raw) else { return nil }
            return key
        }
    }

    public func get(id: String) async throws -> Message? {
        let o = try opened()
        guard let key = try storedKey(of: id, o) else { return nil }
        return try load(key: key, o)
    }

    /// Adds the deletes of an acknowledged message to `batch`: its record, its
    /// delivery state, and its id (or a duplicate-window marker).
    func appendAck(key: [UInt8], message: Message, now: Date, to batch: inout WriteBatch, _ o: Opened) {
        batch.delete(key, in: o.messages)
        batch.delete(key, in: o.delivery)
        let id = Array(message.id.utf8)
        if let end = BrokerPolicy.duplicateWindowEnd(message, catalog.withLock { $0.settings(of: message.queue) }, now: now) {
            batch.put(id, MessageCodec.encode(.removed(windowEnd: end.millisecondsSince1970)), in: o.ids)
        } else {
            batch.delete(id, in: o.ids)
        }
    }

    public func remove(id: String) async throws {
        let o = try opened()
        let now = clock.now()
        guard let key = try storedKey(of: id, o),
              let queue = MessageCodec.queue(ofKey: key),
              let message = try load(key: key, o) else { return }
        let rt = try runtime(queue, o)
        var batch = WriteBatch()
        appendAck(key: key, message: message, now: now, to: &batch, o)
        try await write(batch, o)
        rt.window.withLock { w in
            if w.remove(key: key) { w.acksSinceRangeDelete += 1 }
        }
        metrics.completed.increment()
        try await maybeClearAcknowledged(rt, o)
    }

    public func pending(queue: String, limit: Int) async throws -> [Message] {
        defer { enforceCacheBudgetIfGrown() }
        let o = try opened()
        guard limit > 0 else { return [] }
        let rt = try runtime(queue, o)
        let start = try startOfStoredMessages(rt, o)
        var out: [Message] = []
        try scan(rt, from: start, o) { _, m, d in
            var m = m
            if let d { m.deliveryCount = d.count }
            out.append(m)
            return out.count < limit
        }
        return out
    }

    /// The exact head of the queue for a scan: loads the window first if
    /// nothing is loaded yet (after a restart the recorded head may lie below
    /// up to `rangeDeleteInterval` acknowledged keys; loading skips them once).
    func startOfStoredMessages(_ rt: QueueRuntime, _ o: Opened) throws -> [UInt8] {
        try rt.window.withLock { w in
            if w.loadedThrough == nil && !w.coversTail { try refill(&w, rt, o, want: 64, through: nil) }
            return w.scanStart
        }
    }

    /// Visits the stored messages of `rt`'s queue from `start` in key order,
    /// with their delivery state, until `body` returns false.
    func scan(_ rt: QueueRuntime, from start: [UInt8], _ o: Opened,
              _ body: ([UInt8], Message, MessageCodec.Delivery?) throws -> Bool) throws {
        try mappingEngineErrors { try scanEngine(rt, from: start, o, body) }
    }

    private func scanEngine(_ rt: QueueRuntime, from start: [UInt8], _ o: Opened,
                            _ body: ([UInt8], Message, MessageCodec.Delivery?) throws -> Bool) throws {
        let bounds = ReadOptions(lowerBound: start, upperBound: rt.end)
        let it = try o.db.makeIterator(in: o.messages, options: bounds)
        let dit = try o.db.makeIterator(in: o.delivery, options: bounds)
        it.seekToFirst()
        dit.seekToFirst()
        while it.isValid {
            let key = it.key
            while dit.isValid && dit.key.lexicographicallyPrecedes(key) { dit.next() }
            let d = dit.isValid && dit.key == key ? try MessageCodec.decodeDelivery(dit.value) : nil
            if try !body(key, try MessageCodec.decode(it.value), d) { break }
            it.next()
        }
        try it.checkStatus()
        try dit.checkStatus()
    }

    public func backup(to path: String) async throws {
        let o = try opened()
        try mappingEngineErrors { try o.db.createCheckpoint(at: path) }
    }

    public func compact() async throws {
        let o = try opened()
        try await mappingEngineErrors { try await compactEngine(o) }
    }

    private func compactEngine(_ o: Opened) async throws {
        // Drop duplicate-window markers whose window has closed.
        let now = clock.now().millisecondsSince1970
        var batch = WriteBatch()
        let it = try o.db.makeIterator(in: o.ids)
        it.seekToFirst()
        while it.isValid {
            if it.value.first == 2, case .removed(let end) = try MessageCodec.decodeIdEntry(it.value), end <= now {
                batch.delete(it.key, in: o.ids)
            }
            it.next()
        }
        try it.checkStatus()
        if batch.count > 0 { try await write(batch, o) }
        for rt in runtimes.withLock({ Array($0.values) }) {
            rt.window.withLock { $0.acksSinceRangeDelete = max($0.acksSinceRangeDelete, options.rangeDeleteInterval) }
            try await maybeClearAcknowledged(rt, o)
        }
        for family in o.db.columnFamilies { try o.db.compactRange(nil, nil, in: family) }  // every family, "default" and entities too
    }

    public func close() async throws {
        let o = state.withLock { s -> Opened? in
            defer { s = nil }
            return s
        }
        try mappingEngineErrors { try o?.db.close() }
        runtimes.withLock { $0 = [:] }
        if o != nil { options.logger.info("message store closed", metadata: ["path": "\(path)"]) }
    }

    /// After enough acknowledgements, clears the queue's acknowledged prefix
    /// with one range delete and records the head, so scans after a restart
    /// start there and compaction drops the whole prefix.
    func maybeClearAcknowledged(_ rt: QueueRuntime, _ o: Opened) async throws {
        // Capped at "now": new messages are placed at or above the recorded
        // head's time, and a head at a future scheduled message would delay them.
        let nowKey = MessageCodec.key(prefix: rt.prefix, milliseconds: clock.now().millisecondsSince1970, sequence: 0)
        let interval = options.rangeDeleteInterval
        let head: [UInt8]? = rt.window.withLock { (w: inout QueueWindow) -> [UInt8]? in
            guard w.acksSinceRangeDelete >= interval else { return nil }
            let windowHead = w.head
            let candidate = windowHead.lexicographicallyPrecedes(nowKey) ? windowHead : nowKey
            guard w.persistedHead.lexicographicallyPrecedes(candidate) else { return nil }
            w.acksSinceRangeDelete = 0
            w.persistedHead = candidate
            w.persistedHeadMs = QueueRuntime.milliseconds(of: candidate, prefixCount: rt.prefix.count)
            return candidate
        }
        guard let head else { return }
        var batch = WriteBatch()
        batch.deleteRange(from: rt.prefix, to: head, in: o.messages)
        batch.deleteRange(from: rt.prefix, to: head, in: o.delivery)
        batch.put([UInt8(ascii: "h")] + rt.prefix, head, in: o.entities)
        try await write(batch, o)
    }

    /// Cache counters.
    public var cacheStatistics: MessageCacheStatistics {
        let bytes = runtimes.withLock { Array($0.values) }.reduce(0) { sum, rt in sum + rt.window.withLock { $0.bytes + $0.recent.bytes } }
        return MessageCacheStatistics(hits: cacheHits.load(ordering: .relaxed), misses: cacheMisses.load(ordering: .relaxed),
                                      recentHits: recentHits.load(ordering: .relaxed), recentMisses: recentMisses.load(ordering: .relaxed),
                                      bytes: bytes)
    }

    public func recent(queue: String, limit: Int) async throws -> [Message] {
        defer { enforceCacheBudgetIfGrown() }
        let o = try opened()
        guard limit > 0 else { return [] }
        let rt = try runtime(queue, o)
        return try rt.window.withLock { w in
            if let hit = w.recent.newest(limit) {
                recentHits.add(1, ordering: .relaxed)
                return hit
            }
            recentMisses.add(1, ordering: .relaxed)
            return try mappingEngineErrors { try loadRecent(&w, rt, o, atLeast: limit) }
        }
    }

    /// Reads the queue's newest `max(capacity, atLeast)` stored messages
    /// from the engine (under the window mutex, so adds and removals wait),
    /// rebuilds the ring from the newest `capacity` of them plus the adds in
    /// flight, and returns the newest `atLeast`, newest first.
    func loadRecent(_ w: inout QueueWindow, _ rt: QueueRuntime, _ o: Opened, atLeast: Int) throws -> [Message] {
        let capacity = w.recent.capacity
        let want = max(capacity, atLeast)
        let bounds = ReadOptions(lowerBound: w.scanStart, upperBound: rt.end)
        let it = try o.db.makeIterator(in: o.messages, options: bounds)
        let dit = try o.db.makeIterator(in: o.delivery, options: bounds)
        var found: [RecentMessages.Entry] = []  // newest first
        it.seekToLast()
        while it.isValid && found.count < want {
            var m = try MessageCodec.decode(it.value)
            dit.seek(it.key)
            if dit.isValid && dit.key == it.key { m.deliveryCount = try MessageCodec.decodeDelivery(dit.value).count }
            found.append(RecentMessages.Entry(key: it.key, message: m, landed: true))
            it.prev()
        }
        try it.checkStatus()
        try dit.checkStatus()
        var ring = RecentMessages(capacity: capacity)
        ring.entries = Array(found.prefix(capacity).reversed())
        ring.complete = found.count < want
        ring.loaded = true
        noteCacheGrowth(ring.bytes - w.recent.bytes)
        // In-flight adds are not in the engine yet: record them as unlanded.
        for e in w.entries where !e.landed && !e.removed { ring.record(e.key, e.message) }
        for (k, m) in w.beyond { ring.record(k.bytes, m) }
        w.recent = ring
        return found.prefix(atLeast).map(\.message)
    }

    /// Evicts the tails of the least recently used queues' windows until the
    /// cached bytes fit the budget.
    func enforceCacheBudget() {
        let all = runtimes.withLock { Array($0.values) }
        var total = all.reduce(0) { sum, rt in sum + rt.window.withLock { $0.bytes + $0.recent.bytes } }
        guard total > options.cacheBudgetBytes else { return }
        for rt in all.sorted(by: { $0.lastUse.load(ordering: .relaxed) < $1.lastUse.load(ordering: .relaxed) }) {
            guard total > options.cacheBudgetBytes else { break }
            rt.window.withLock { w in
                // The newest-messages ring goes first (one scan rebuilds it),
                // then the window's tail.
                total -= w.recent.bytes
                w.recent.clear()
                let before = w.bytes
                w.evict(toBytes: max(0, before - (total - options.cacheBudgetBytes)))
                total -= before - w.bytes
            }
        }
    }
}
