import Foundation
import StrataMessageCore

/// Where and how `PostgresMessageStore` connects.
public struct PostgresConfiguration: Sendable {
    /// A libpq connection string: `postgresql://user@host:port/database` or
    /// `host=… port=… user=… dbname=…`.
    public var connectionString: String
    /// Connections kept open; calls beyond this many wait for one.
    public var poolSize: Int = 8
    /// Prefix of the store's table names (letters, digits, `_`), so several
    /// stores can share one database.
    public var tablePrefix: String = "strata_"

    /// A configuration for `connectionString`.
    public init(connectionString: String, poolSize: Int = 8, tablePrefix: String = "strata_") {
        self.connectionString = connectionString
        self.poolSize = poolSize
        self.tablePrefix = tablePrefix
    }
}

/// The message store on PostgreSQL, for brokers that outgrow one machine:
/// several broker processes can share one store. Same semantics as every
/// backend (the contract tests run against it when `make test` starts a
/// server). Competing consumers lock rows with `FOR UPDATE SKIP LOCKED`;
/// every call is one transaction on a pooled connection (calls block their
/// thread for the statement's duration). Schema: Docs/message-store.md.
/// `backup(to:)` writes a `MessageExport` file (use `pg_dump` for the whole
/// database); `restore(from:)` replaces the contents with one.
public final class PostgresMessageStore: MessageStore {
    let pool: PostgresPool
    private let clock: MessageClock
    let t: String  // table prefix
    /// Boundaries of served pages (PostgresMessageStore+Paging.swift).
    let cursors = PageCursors<OrderPosition>()
    /// Named snapshots' retention and test hook (PostgresMessageStore+Snapshots.swift).
    let snapshotSettings = SnapshotSettings(defaultDirectory: "")

    /// Connects, creating the tables if they do not exist.
    public init(configuration: PostgresConfiguration, clock: MessageClock = .system) throws {
        guard !configuration.tablePrefix.isEmpty,
              configuration.tablePrefix.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }) else {
            throw MessageStoreError(.invalidArgument, "tablePrefix must be letters, digits and _")
        }
        pool = try PostgresPool(conninfo: configuration.connectionString, size: configuration.poolSize)
        self.clock = clock
        t = configuration.tablePrefix.lowercased()
        let empty = Array(try JSONEncoder().encode(EntityCatalog()))
        try pool.with { c in
            try c.transaction {
                try c.query("SELECT pg_advisory_xact_lock(hashtext($1))", [.text(t + "schema")])
                try c.query("""
                    CREATE TABLE IF NOT EXISTS \(t)messages(
                        seq BIGSERIAL PRIMARY KEY,
                        id TEXT NOT NULL UNIQUE,
                        queue TEXT NOT NULL,
                        visible_at BIGINT NOT NULL,
                        record BYTEA NOT NULL,
                        size INTEGER NOT NULL,
                        timestamp_ms BIGINT NOT NULL,
                        expires_at BIGINT,
                        delivery_count INTEGER NOT NULL,
                        lock_token BYTEA,
                        locked_until BIGINT NOT NULL DEFAULT 0)
                    """)
                try c.query("CREATE INDEX IF NOT EXISTS \(t)messages_by_queue ON \(t)messages(queue, visible_at, seq)")
                try c.query("CREATE TABLE IF NOT EXISTS \(t)removed_ids(id TEXT PRIMARY KEY, window_end BIGINT NOT NULL)")
                try c.query("CREATE TABLE IF NOT EXISTS \(t)catalog(k INTEGER PRIMARY KEY CHECK (k = 0), json BYTEA NOT NULL)")
                try c.query("INSERT INTO \(t)catalog(k, json) VALUES (0, $1) ON CONFLICT DO NOTHING", [.bytes(empty)])
            }
        }
    }

    func catalog(_ c: PostgresConnection, forUpdate: Bool = false) throws -> EntityCatalog {
        let rows = try c.query("SELECT json FROM \(t)catalog WHERE k = 0" + (forUpdate ? " FOR UPDATE" : ""))
        guard rows.count == 1 else { throw MessageStoreError(.corruption, "\(t)catalog has no row") }
        do { return try JSONDecoder().decode(EntityCatalog.self, from: Data(try rows.bytes(0, 0))) } catch {
            throw MessageStoreError(.corruption, "\(t)catalog row is undecodable: \(error)")
        }
    }

    private func save(_ catalog: EntityCatalog, _ c: PostgresConnection) throws {
        try c.query("UPDATE \(t)catalog SET json = $1 WHERE k = 0", [.bytes(Array(try JSONEncoder().encode(catalog)))])
    }

    public func initialize() async throws { _ = try pool.with { try $0.query("SELECT 1") } }

    // MARK: Core

    public func add(_ message: Message) async throws { try await add(contentsOf: [message]) }

    public func add(contentsOf messages: [Message]) async throws {
        let now = clock.now().millisecondsSince1970
        try pool.with { c in try c.transaction { try insert(messages, now: now, c) } }
    }

    private func insert(_ messages: [Message], now: Int64, _ c: PostgresConnection) throws {
        var cat = try catalog(c)
        if messages.contains(where: { cat.needsImplicitRegistration($0.queue) }) {
            cat = try catalog(c, forUpdate: true)
            for m in messages where cat.needsImplicitRegistration(m.queue) { cat.queues[m.queue] = QueueSettings() }
            try save(cat, c)
        }
        var seen = Set<String>()
        for m in messages {
            try InMemoryMessageStore.validate(m)
            let stored = try c.query("SELECT 1 FROM \(t)messages WHERE id = $1", [.text(m.id)]).count > 0
            let inWindow = try c.query("SELECT 1 FROM \(t)removed_ids WHERE id = $1 AND window_end > $2", [.text(m.id), .int(now)]).count > 0
            if !seen.insert(m.id).inserted || stored || inWindow { throw MessageStoreError(.duplicateId, "a message with id \(m.id) is already stored or inside its duplicate window") }
        }
        for var m in messages {
            m = try BrokerPolicy.admit(m, cat.settings(of: m.queue))
            try c.query("DELETE FROM \(t)removed_ids WHERE id = $1", [.text(m.id)])
            try insertRow(m, visibleAt: (m.scheduledAt ?? m.timestamp).millisecondsSince1970, c)
        }
    }

    private func insertRow(_ m: Message, visibleAt: Int64, _ c: PostgresConnection) throws {
        try c.query("""
            INSERT INTO \(t)messages(id, queue, visible_at, record, size, timestamp_ms, expires_at, delivery_count)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
            """, [.text(m.id), .text(m.queue), .int(visibleAt), .bytes(MessageCodec.encode(m)), .int(Int64(m.payload.count)),
                  .int(m.timestamp.millisecondsSince1970), m.expiresAt.map { .int($0.millisecondsSince1970) } ?? .null,
                  .int(Int64(m.deliveryCount))])
    }

    struct Stored {
        var seq: Int64
        var message: Message
        var visibleAt: Int64
        var lock: [UInt8]?
        var lockedUntil: Int64
    }

    var columns: String { "seq, record, delivery_count, visible_at, lock_token, locked_until" }

    func stored(_ rows: PostgresConnection.Rows) throws -> [Stored] {
        try (0..<rows.count).map { r in
            var m = try MessageCodec.decode(try rows.bytes(r, 1))
            m.deliveryCount = Int(rows.int(r, 2))
            return Stored(seq: rows.int(r, 0), message: m, visibleAt: rows.int(r, 3),
                          lock: rows.isNull(r, 4) ? nil : try rows.bytes(r, 4), lockedUntil: rows.int(r, 5))
        }
    }

    private func row(id: String, forUpdate: Bool, _ c: PostgresConnection) throws -> Stored? {
        try stored(try c.query("SELECT \(columns) FROM \(t)messages WHERE id = $1" + (forUpdate ? " FOR UPDATE" : ""), [.text(id)])).first
    }

    public func get(id: String) async throws -> Message? {
        try pool.with { c in try row(id: id, forUpdate: false, c)?.message }
    }

    private func drop(_ s: Stored, now: Int64, _ cat: EntityCatalog, _ c: PostgresConnection) throws {
        try c.query("DELETE FROM \(t)messages WHERE seq = $1", [.int(s.seq)])
        if let end = BrokerPolicy.duplicateWindowEnd(s.message, cat.settings(of: s.message.queue), now: Date(timeIntervalSince1970: Double(now) / 1000)) {
            try c.query("INSERT INTO \(t)removed_ids(id, window_end) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET window_end = $2",
                        [.text(s.message.id), .int(end.millisecondsSince1970)])
        }
    }

    public func remove(id: String) async throws {
        let now = clock.now().millisecondsSince1970
        try pool.with { c in
            try c.transaction {
                if let s = try row(id: id, forUpdate: true, c) { try drop(s, now: now, try catalog(c), c) }
            }
        }
    }

    public func pending(queue: String, limit: Int) async throws -> [Message] {
        try pool.with { c in
            try stored(try c.query("SELECT \(columns) FROM \(t)messages WHERE queue = $1 ORDER BY visible_at, seq LIMIT $2",
                                   [.text(queue), .int(Int64(min(max(0, limit), Int(Int64.max))))])).map(\.message)
        }
    }

    public func recent(queue: String, limit: Int) async throws -> [Message] {
        try pool.with { c in
            try stored(try c.query("SELECT \(columns) FROM \(t)messages WHERE queue = $1 ORDER BY visible_at DESC, seq DESC LIMIT $2",
                                   [.text(queue), .int(Int64(min(max(0, limit), Int(Int64.max))))])).map(\.message)
        }
    }

    public func backup(to path: String) async throws {
        try await MessageExport.export(self, to: path)
    }

    public func restore(from path: String) async throws {
        guard FileManager.default.fileExists(atPath: path) else { throw MessageStoreError(.invalidArgument, "no backup at \(path)") }
        try pool.with { c in
            try c.transaction {
                try c.query("DELETE FROM \(t)messages")
                try c.query("DELETE FROM \(t)removed_ids")
                try save(EntityCatalog(), c)
            }
        }
        _ = try await MessageExport.importFile(path, into: self, replace: false)
    }

    public func compact() async throws {
        let now = clock.now().millisecondsSince1970
        try pool.with { c in
            try c.query("DELETE FROM \(t)removed_ids WHERE window_end <= $1", [.int(now)])
            try c.query("VACUUM \(t)messages")
        }
    }

    public func close() async throws { pool.close() }

    // MARK: Entities

    private func changeCatalog<T>(_ body: (inout EntityCatalog, PostgresConnection) throws -> T) throws -> T {
        try pool.with { c in
            try c.transaction {
                var cat = try catalog(c, forUpdate: true)
                let r = try body(&cat, c)
                try save(cat, c)
                return r
            }
        }
    }

    private func deleteMessages(of queues: [String], _ c: PostgresConnection) throws -> Int {
        var n = 0
        for q in queues { n += try c.query("DELETE FROM \(t)messages WHERE queue = $1 RETURNING 1", [.text(q)]).count }
        return n
    }

    public func createQueue(_ name: String, settings: QueueSettings) async throws {
        try EntityCatalog.validateName(name, "queue")
        try settings.validate()
        try changeCatalog { cat, _ in cat.queues[name] = settings }
    }

    public func deleteQueue(_ name: String) async throws {
        try changeCatalog { cat, c in
            let known = cat.queues.removeValue(forKey: name) != nil
            let n = try deleteMessages(of: [name, EntityPath.deadLetterQueue(of: name)], c)
            if !known && n == 0 { throw MessageStoreError(.notFound, "no queue \(name)") }
        }
    }

    public func queues() async throws -> [QueueDescription] {
        try pool.with { c in try catalog(c).queues.sorted { $0.key < $1.key }.map { QueueDescription(name: $0.key, settings: $0.value) } }
    }

    public func createTopic(_ name: String) async throws {
        try EntityCatalog.validateName(name, "topic")
        try changeCatalog { cat, _ in if cat.topics[name] == nil { cat.topics[name] = [:] } }
    }

    public func deleteTopic(_ name: String) async throws {
        try changeCatalog { cat, c in
            guard let subs = cat.topics.removeValue(forKey: name) else { throw MessageStoreError(.notFound, "no topic \(name)") }
            let qs = subs.keys.map { EntityPath.subscriptionQueue(topic: name, subscription: $0) }
            _ = try deleteMessages(of: qs + qs.map(EntityPath.deadLetterQueue(of:)), c)
        }
    }

    public func topics() async throws -> [String] {
        try pool.with { c in try catalog(c).topics.keys.sorted() }
    }

    public func createSubscription(_ name: String, topic: String, settings: QueueSettings, filter: SubscriptionFilter) async throws {
        try EntityCatalog.validateName(name, "subscription")
        try settings.validate()
        try changeCatalog { cat, _ in
            guard cat.topics[topic] != nil else { throw MessageStoreError(.notFound, "no topic \(topic)") }
            cat.topics[topic]![name] = EntityCatalog.Subscription(settings: settings, filter: filter)
        }
    }

    public func deleteSubscription(_ name: String, topic: String) async throws {
        try changeCatalog { cat, c in
            guard cat.topics[topic]?.removeValue(forKey: name) != nil else {
                throw MessageStoreError(.notFound, "no subscription \(name) of topic \(topic)")
            }
            let q = EntityPath.subscriptionQueue(topic: topic, subscription: name)
            _ = try deleteMessages(of: [q, EntityPath.deadLetterQueue(of: q)], c)
        }
    }

    public func subscriptions(topic: String) async throws -> [SubscriptionDescription] {
        try pool.with { c in
            guard let subs = try catalog(c).topics[topic] else { throw MessageStoreError(.notFound, "no topic \(topic)") }
            return subs.sorted { $0.key < $1.key }.map {
                SubscriptionDescription(name: $0.key, topic: topic, settings: $0.value.settings, filter: $0.value.filter)
            }
        }
    }

    // MARK: Broker semantics

    public func publish(_ messages: [Message], topic: String) async throws -> Int {
        let now = clock.now().millisecondsSince1970
        return try pool.with { c in
            try c.transaction {
                let copies = try catalog(c).fanOut(messages, topic: topic)
                try insert(copies, now: now, c)
                return copies.count
            }
        }
    }

    private func moveToDeadLetter(_ s: Stored, reason: String, now: Int64, _ c: PostgresConnection) throws {
        let m = BrokerPolicy.deadLettered(s.message, reason: reason)
        try c.query("DELETE FROM \(t)messages WHERE seq = $1", [.int(s.seq)])
        try insertRow(m, visibleAt: now, c)
    }

    public func receive(queue: String, limit: Int, lockDuration: Duration?) async throws -> [ReceivedMessage] {
        let nowDate = clock.now()
        let now = nowDate.millisecondsSince1970
        return try pool.with { c in
            try c.transaction {
                let cat = try catalog(c)
                let settings = cat.settings(of: queue)
                let until = now + (try BrokerPolicy.lockDuration(lockDuration, settings)).milliseconds
                var out: [ReceivedMessage] = []
                var after: (Int64, Int64) = (.min, .min)
                while out.count < limit {
                    let rows = try stored(try c.query("""
                        SELECT \(columns) FROM \(t)messages
                        WHERE queue = $1 AND visible_at <= $2 AND (lock_token IS NULL OR locked_until <= $2)
                          AND (visible_at, seq) > ($3, $4)
                        ORDER BY visible_at, seq LIMIT $5 FOR UPDATE SKIP LOCKED
                        """, [.text(queue), .int(now), .int(after.0), .int(after.1), .int(Int64(min(limit - out.count, 1 << 20) + 8))]))
                    if rows.isEmpty { break }
                    for s in rows where out.count < limit {
                        after = (s.visibleAt, s.seq)
                        switch BrokerPolicy.onReceive(s.message, queue: queue, settings, now: nowDate) {
                        case .drop:
                            try drop(s, now: now, cat, c)
                            continue
                        case .deadLetter(let reason):
                            try moveToDeadLetter(s, reason: reason, now: now, c)
                            continue
                        case .deliver: break
                        }
                        let token = UUID()
                        var m = s.message
                        m.deliveryCount += 1
                        try c.query("UPDATE \(t)messages SET delivery_count = $1, lock_token = $2, locked_until = $3 WHERE seq = $4",
                                    [.int(Int64(m.deliveryCount)), .bytes(Self.bytes(token)), .int(until), .int(s.seq)])
                        out.append(ReceivedMessage(message: m, lockToken: LockToken(id: token, messageID: m.id, queue: queue),
                                                   lockedUntil: Date(timeIntervalSince1970: Double(until) / 1000)))
                    }
                }
                return out
            }
        }
    }

    private static func bytes(_ u: UUID) -> [UInt8] { withUnsafeBytes(of: u.uuid) { Array($0) } }

    private func held(_ token: LockToken, now: Int64, _ c: PostgresConnection) throws -> Stored {
        guard let s = try row(id: token.messageID, forUpdate: true, c), s.message.queue == token.queue,
              s.lock == Self.bytes(token.id), s.lockedUntil > now else {
            throw MessageStoreError(.lockLost, "\(token) is not held (expired, released, settled or never issued)")
        }
        return s
    }

    public func complete(_ tokens: [LockToken]) async throws {
        let now = clock.now().millisecondsSince1970
        try pool.with { c in
            try c.transaction {
                let cat = try catalog(c)
                let rows = try tokens.map { try held($0, now: now, c) }
                for s in rows { try drop(s, now: now, cat, c) }
            }
        }
    }

    public func abandon(_ token: LockToken) async throws {
        let now = clock.now().millisecondsSince1970
        try pool.with { c in
            try c.transaction {
                let s = try held(token, now: now, c)
                let settings = try catalog(c).settings(of: token.queue)
                if let reason = BrokerPolicy.onAbandon(s.message, queue: token.queue, settings) {
                    try moveToDeadLetter(s, reason: reason, now: now, c)
                } else {
                    try c.query("UPDATE \(t)messages SET lock_token = NULL, locked_until = 0 WHERE seq = $1", [.int(s.seq)])
                }
            }
        }
    }

    public func deadLetter(_ token: LockToken, reason: String) async throws {
        let now = clock.now().millisecondsSince1970
        try pool.with { c in
            try c.transaction { try moveToDeadLetter(try held(token, now: now, c), reason: reason, now: now, c) }
        }
    }

    public func renewLock(_ token: LockToken) async throws -> Date {
        let now = clock.now().millisecondsSince1970
        return try pool.with { c in
            try c.transaction {
                let s = try held(token, now: now, c)
                let until = now + (try catalog(c).settings(of: token.queue).lockDuration.milliseconds)
                try c.query("UPDATE \(t)messages SET locked_until = $1 WHERE seq = $2", [.int(until), .int(s.seq)])
                return Date(timeIntervalSince1970: Double(until) / 1000)
            }
        }
    }

    public func purge(queue: String) async throws -> Int {
        try pool.with { c in try deleteMessages(of: [queue], c) }
    }

    public func statistics(queue: String) async throws -> QueueStatistics {
        let now = clock.now().millisecondsSince1970
        return try pool.with { c in
            let r = try c.query("""
                SELECT count(*) FILTER (WHERE visible_at > $2),
                       count(*) FILTER (WHERE visible_at <= $2 AND lock_token IS NOT NULL AND locked_until > $2),
                       count(*) FILTER (WHERE visible_at <= $2 AND NOT (lock_token IS NOT NULL AND locked_until > $2)),
                       coalesce(sum(size), 0), min(timestamp_ms),
                       (SELECT count(*) FROM \(t)messages WHERE queue = $3)
                FROM \(t)messages WHERE queue = $1
                """, [.text(queue), .int(now), .text(EntityPath.deadLetterQueue(of: queue))])
            var st = QueueStatistics()
            st.scheduled = Int(r.int(0, 0))
            st.locked = Int(r.int(0, 1))
            st.active = Int(r.int(0, 2))
            st.bytes = Int(r.int(0, 3))
            st.deadLettered = Int(r.int(0, 5))
            st.oldestAge = r.isNull(0, 4) ? nil : .milliseconds(max(0, now - r.int(0, 4)))
            return st
        }
    }
}

extension PostgresMessageStore: DuplicateWindowExport {
    /// Every id still inside its duplicate window (`removed_ids`), ordered by id.
    public func duplicateWindowMarkers() async throws -> [DuplicateWindowMarker] {
        let now = clock.now().millisecondsSince1970
        return try pool.with { c in
            let rows = try c.query("SELECT id, window_end FROM \(t)removed_ids WHERE window_end > $1 ORDER BY id COLLATE \"C\"", [.int(now)])
            return (0..<rows.count).map { DuplicateWindowMarker(id: rows.text($0, 0), until: Date(timeIntervalSince1970: Double(rows.int($0, 1)) / 1000)) }
        }
    }

    /// Records `markers` in one transaction; an id stored as a message keeps its message.
    public func recordDuplicateWindowMarkers(_ markers: [DuplicateWindowMarker]) async throws {
        try pool.with { c in
            try c.transaction {
                for m in markers {
                    try c.query("""
                        INSERT INTO \(t)removed_ids(id, window_end) SELECT $1, $2
                        WHERE NOT EXISTS (SELECT 1 FROM \(t)messages WHERE id = $1)
                        ON CONFLICT (id) DO UPDATE SET window_end = $2
                        """, [.text(m.id), .int(Int64((m.until.timeIntervalSince1970 * 1000).rounded()))])
                }
            }
        }
    }

    /// Forgets every marker.
    public func clearDuplicateWindowMarkers() async throws {
        _ = try pool.with { c in try c.query("DELETE FROM \(t)removed_ids") }
    }
}
