import Foundation
import Logging
import PostgresNIO
import StrataMessageCore

/// The message store on PostgreSQL, for brokers that outgrow one machine:
/// several broker processes can share one store. Same semantics as every
/// backend (the contract tests run against it when `make test` starts a
/// server). Runs on postgres-nio's `PostgresClient` — the application's
/// (`init(client:…)`, shared with the rest of a Vapor or Hummingbird app)
/// or one it runs itself (`init(configuration:…)`) — so no call blocks a
/// thread. Every hot operation is one statement, most of them calls of the
/// server-side functions `PostgresSchema` installs: an add (or a batch) is
/// one round trip, a receive one (`FOR UPDATE SKIP LOCKED` and the lock in
/// one statement), a complete (or a batch) one. Competing consumers on
/// several hosts never hold one message at once. Long polling waits for
/// `LISTEN/NOTIFY` (an add, an abandon or a dead-letter in any process wakes
/// the queue's waiters) and for the next scheduled message or lock expiry;
/// the entity catalog is cached and invalidated by notification.
/// Schema: Docs/message-store.md; `backup(to:)` writes a `MessageExport`
/// file (use `pg_dump` for the whole database); `restore(from:)` replaces
/// the contents with one.
public final class PostgresMessageStore: MessageStore {
    let link: PostgresLink
    let clock: MessageClock
    let t: String  // table prefix
    /// Handed to postgres-nio with every statement (`Logger.forStatements`).
    let logger: Logger
    let catalogCache: CatalogCache
    /// How long a call waits for a connection before it is `.unavailable`.
    let connectionWait: Duration
    let gate: ArrivalGate
    let notifier: ArrivalNotifier
    private let closed = StoreLock(false)
    private let listener: Task<Void, Never>
    /// Boundaries of served pages (PostgresMessageStore+Paging.swift).
    let cursors = PageCursors<OrderPosition>()
    /// Named snapshots' retention and test hook (PostgresMessageStore+Snapshots.swift).
    let snapshotSettings = SnapshotSettings(defaultDirectory: "")

    /// Uses `client`, which the application runs (`client.run()`) for at
    /// least as long as the store is open; `close()` leaves it running.
    /// Creates or migrates the tables.
    /// A call that gets no connection within `connectionWait` (the server
    /// is down or unreachable) is `.unavailable`.
    public convenience init(client: PostgresClient, tablePrefix: String = "strata_", clock: MessageClock = .system,
                            connectionWait: Duration = .seconds(30), logger: Logger = Logger(label: "strata.postgres")) async throws {
        try Self.check(tablePrefix)
        try await self.init(link: PostgresLink(client: client, logger: logger), tablePrefix: tablePrefix, clock: clock,
                            connectionWait: connectionWait, logger: logger)
    }

    /// Connects to `configuration.connectionString` (the primary among its
    /// hosts) with a client the store runs until `close()`. Creates or
    /// migrates the tables.
    public convenience init(configuration: PostgresConfiguration, clock: MessageClock = .system,
                            logger: Logger = Logger(label: "strata.postgres")) async throws {
        try Self.check(configuration.tablePrefix)
        let endpoints = try PostgresEndpoints(configuration.connectionString)
        let link = try await PostgresLink(endpoints: endpoints, poolSize: configuration.poolSize, logger: logger)
        do {
            try await self.init(link: link, tablePrefix: configuration.tablePrefix, clock: clock,
                                connectionWait: configuration.connectionWait, logger: logger)
        } catch {
            link.close()
            throw error
        }
    }

    /// Connects to `url` (see `PostgresConfiguration.connectionString`).
    public convenience init(url: String, tablePrefix: String = "strata_", clock: MessageClock = .system) async throws {
        try await self.init(configuration: PostgresConfiguration(connectionString: url, tablePrefix: tablePrefix), clock: clock)
    }

    private static func check(_ prefix: String) throws {
        // 30: the longest table name (a snapshot's removed_ids copy) stays within PostgreSQL's 63.
        guard !prefix.isEmpty, prefix.count <= 30,
              prefix.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }) else {
            throw MessageStoreError(.invalidArgument, "tablePrefix must be 1 to 30 letters, digits and _")
        }
    }

    private init(link: PostgresLink, tablePrefix: String, clock: MessageClock, connectionWait: Duration, logger: Logger) async throws {
        self.link = link
        self.connectionWait = connectionWait
        self.clock = clock
        self.logger = logger.forStatements
        let t = tablePrefix.lowercased()
        self.t = t
        let cache = CatalogCache(), gate = ArrivalGate()
        let notifier = ArrivalNotifier(link: link, channel: PostgresSchema.channel(t), logger: logger.forStatements)
        catalogCache = cache
        self.gate = gate
        self.notifier = notifier
        listener = NotificationListener.start(link: link, channel: PostgresSchema.channel(t), origin: notifier.origin, cache: cache,
                                              gate: gate, logger: logger)
        do {
            try await transaction("open") { c in try await PostgresSchema.migrate(c, prefix: t, logger: logger) }
        } catch {
            listener.cancel()
            throw error
        }
    }

    deinit {
        listener.cancel()
        link.close()
    }

    // MARK: Running statements

    func checkOpen() throws {
        if closed.withLock({ $0 }) { throw MessageStoreError(.closed, "the PostgreSQL message store is closed") }
    }

    private func failed(_ error: any Error, _ what: String, generation: Int) -> any Error {
        // A call that was under way when close() shut the pool down.
        if closed.withLock({ $0 }), !(error is CancellationError) {
            return MessageStoreError(.closed, "the PostgreSQL message store is closed", underlying: error)
        }
        let e = PostgresErrorMapping.map(error, what, secret: link.secret)
        if let m = e as? MessageStoreError, m.kind == .unavailable { link.connectionLost(generation) }
        return e
    }

    /// Runs `body` on a connection of the client; errors mapped (`what`
    /// names the operation). A call that gets no connection within
    /// `connectionWait` (the server is down: the pool retries connecting
    /// and would hold the call) is `.unavailable` without having run.
    func run<T: Sendable>(_ what: String, _ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        try checkOpen()
        let (client, generation) = link.client
        do {
            return try await ConnectionLease.with(client, waiting: connectionWait, body)
        } catch {
            throw failed(error, what, generation: generation)
        }
    }

    /// Runs `body` in one transaction on one pooled connection, committed
    /// durably whatever the server's `synchronous_commit`
    /// (`PostgresSchema.durableCommit`).
    func transaction<T: Sendable>(_ what: String, _ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        let logger = logger
        return try await run(what) { c in
            try await c.withTransaction(logger: logger) { c in
                try await c.run("SELECT \(unescaped: PostgresSchema.durableCommit)", logger: logger)
                return try await body(c)
            }
        }
    }

    /// The rows of `q`, run in a transaction block of its own and returned
    /// only once its `COMMIT` is done (durably whatever the server's
    /// `synchronous_commit`). For every write a caller takes as
    /// acknowledged: a statement run outside a transaction block is
    /// committed only after postgres-nio has handed back its rows, so its
    /// commit could still fail, or be lost in a crash or a failover, after
    /// the call returned (PostgresSchema, "Why the hot writes are
    /// procedures"). The hot writes are one `CALL` of a procedure that
    /// commits instead (`add_committed`, `complete_committed`).
    func committed(_ what: String, _ q: PostgresQuery) async throws -> [PostgresRow] {
        let logger = logger
        return try await transaction(what) { c in try await c.rows(q, logger: logger) }
    }

    /// The rows of `q`, for reads (and for lock writes, which may be lost:
    /// see `committed`).
    func fetch(_ what: String, _ q: PostgresQuery) async throws -> [PostgresRow] {
        let logger = logger
        return try await run(what) { c in try await c.rows(q, logger: logger) }
    }

    /// Runs `q` and hands every row to `row`.
    func rows(_ what: String, _ q: PostgresQuery, _ row: (PostgresRow) throws -> Void) async throws {
        for r in try await fetch(what, q) { try row(r) }
    }

    /// Runs `q`, discarding its rows.
    func execute(_ what: String, _ q: PostgresQuery) async throws {
        try await rows(what, q) { _ in }
    }

    // MARK: Catalog

    func loadCatalog(_ c: PostgresConnection, forUpdate: Bool) async throws -> EntityCatalog {
        var json: ByteBuffer?
        for try await b in try await c.query("SELECT json FROM \(unescaped: t)catalog WHERE k = 0\(unescaped: forUpdate ? " FOR UPDATE" : "")",
                                             logger: logger).decode(ByteBuffer.self) { json = b }
        guard let json else { throw MessageStoreError(.corruption, "\(t)catalog has no row") }
        do { return try JSONDecoder().decode(EntityCatalog.self, from: Data(json.readableBytesView)) } catch {
            throw MessageStoreError(.corruption, "\(t)catalog row is undecodable: \(error)")
        }
    }

    /// The entity catalog: from the cache while the listener hears about
    /// changes, else from the database.
    func catalog() async throws -> EntityCatalog {
        if let cached = catalogCache.cached { return cached }
        let ticket = catalogCache.ticket
        let cat = try await run("read the catalog") { [self] c in try await loadCatalog(c, forUpdate: false) }
        catalogCache.store(cat, ticket)
        return cat
    }

    /// Changes the catalog in one transaction (other stores hear of it by
    /// notification); `body` may run statements in the same transaction.
    func changeCatalog<T: Sendable>(_ what: String, _ body: @escaping @Sendable (inout EntityCatalog, PostgresConnection) async throws -> T) async throws -> T {
        let logger = logger, t = t
        defer { catalogCache.invalidate() }
        return try await transaction(what) { [self] c in
            var cat = try await loadCatalog(c, forUpdate: true)
            let r = try await body(&cat, c)
            let json = ByteBuffer(bytes: try JSONEncoder().encode(cat))
            try await c.run("UPDATE \(unescaped: t)catalog SET json = \(json) WHERE k = 0", logger: logger)
            try await c.run("SELECT pg_notify(\(PostgresSchema.channel(t)), 'c')", logger: logger)
            return r
        }
    }

    public func initialize() async throws { try await execute("initialize", "SELECT 1") }

    // MARK: Core

    public func add(_ message: Message) async throws { try await add(contentsOf: [message]) }

    public func add(contentsOf messages: [Message]) async throws {
        try checkOpen()
        guard !messages.isEmpty else { return }
        let cat = try await catalog()
        var seen = Set<String>()
        for m in messages {
            try InMemoryMessageStore.validate(m)
            try cat.validateAddTarget(m.queue)
            if !seen.insert(m.id).inserted { throw MessageStoreError(.duplicateId, "a message with id \(m.id) is already stored") }
        }
        let now = clock.now().millisecondsSince1970
        if messages.contains(where: { cat.needsImplicitRegistration($0.queue) }) {
            // Rare: the queue's first message registers it, in the add's own transaction.
            try await changeCatalog("add") { [self] cat, c in
                for m in messages where cat.needsImplicitRegistration(m.queue) { cat.queues[m.queue] = QueueSettings() }
                try await insert(try admitted(messages, cat), now: now, on: c)
            }
        } else {
            let rows = try admitted(messages, cat)
            let q = addQuery(rows, now: now, committing: true), logger = logger
            try await run("add") { c in try await c.run(q, logger: logger) }
        }
        arrived(messages.map(\.queue))
    }

    /// Wakes this store's waiters (one per message) and tells the others.
    private func arrived(_ queues: [String]) {
        var counts: [String: Int] = [:]
        for q in queues { counts[q, default: 0] += 1 }
        for (q, n) in counts { gate.open(q, limit: n) }
        notifier.arrived(counts.keys)
    }

    private func admitted(_ messages: [Message], _ cat: EntityCatalog) throws -> [Message] {
        try messages.map { try BrokerPolicy.admit($0, cat.settings(of: $0.queue)) }
    }

    /// The one statement that stores `messages` (after the duplicate check
    /// against ids and open duplicate windows): a call of the `add`
    /// function inside a transaction block (`committing: false`), or of the
    /// procedure that commits it before it answers.
    private func addQuery(_ messages: [Message], now: Int64, committing: Bool) -> PostgresQuery {
        var ids: [String] = [], queues: [String] = [], visible: [Int] = [], records: [ByteBuffer] = []
        var sizes: [Int] = [], stamps: [Int] = [], expires: [Int] = [], counts: [Int] = []
        for m in messages {
            ids.append(m.id)
            queues.append(m.queue)
            visible.append(Int(BrokerPolicy.visibleAt(m)))
            records.append(ByteBuffer(bytes: MessageCodec.encode(m)))
            sizes.append(m.payload.count)
            stamps.append(Int(m.timestamp.millisecondsSince1970))
            expires.append(m.expiresAt.map { Int($0.millisecondsSince1970) } ?? PostgresSchema.noExpiry)
            counts.append(m.deliveryCount)
        }
        let call = committing ? "CALL \(t)add_committed" : "SELECT \(t)add"
        return "\(unescaped: call)(\(ids), \(queues), \(visible), \(records), \(sizes), \(stamps), \(expires), \(counts), \(Int(now)))"
    }

    /// Stores `messages` in the open transaction of `c`.
    private func insert(_ messages: [Message], now: Int64, on c: PostgresConnection) async throws {
        try await c.run(addQuery(messages, now: now, committing: false), logger: logger)
    }

    /// A stored row.
    struct Stored {
        var seq: Int64
        var message: Message
        var visibleAt: Int64
    }

    var columns: String { "seq, record, delivery_count, visible_at" }

    func stored(_ row: PostgresRow) throws -> Stored {
        let (seq, record, count, visible) = try row.decode((Int, ByteBuffer, Int, Int).self)
        var m = try MessageCodec.decode(Array(record.readableBytesView))
        m.deliveryCount = count
        return Stored(seq: Int64(seq), message: m, visibleAt: Int64(visible))
    }

    public func get(id: String) async throws -> Message? {
        var found: Message?
        try await rows("get", "SELECT \(unescaped: columns) FROM \(unescaped: t)messages WHERE id = \(id)") { found = try stored($0).message }
        return found
    }

    public func remove(id: String) async throws {
        try checkOpen()
        let now = clock.now().millisecondsSince1970
        let cat = try await catalog()
        let logger = logger, t = t
        try await transaction("remove") { c in
            var removed: Message?
            for try await (record, count) in try await c.query("DELETE FROM \(unescaped: t)messages WHERE id = \(id) RETURNING record, delivery_count",
                                                               logger: logger).decode((ByteBuffer, Int).self) {
                var m = try MessageCodec.decode(Array(record.readableBytesView))
                m.deliveryCount = count
                removed = m
            }
            if let m = removed, let end = BrokerPolicy.duplicateWindowEnd(m, cat.settings(of: m.queue), now: Self.date(now)) {
                try await c.run("""
                    INSERT INTO \(unescaped: t)removed_ids(id, window_end) VALUES (\(id), \(Int(end.millisecondsSince1970)))
                    ON CONFLICT (id) DO UPDATE SET window_end = EXCLUDED.window_end
                    """, logger: logger)
            }
        }
    }

    static func date(_ ms: Int64) -> Date { Date(timeIntervalSince1970: Double(ms) / 1000) }

    private func list(_ queue: String, limit: Int, newestFirst: Bool) async throws -> [Message] {
        let order = newestFirst ? "DESC" : ""
        var out: [Message] = []
        try await rows("list", """
            SELECT \(unescaped: columns) FROM \(unescaped: t)messages WHERE queue = \(queue)
            ORDER BY visible_at \(unescaped: order), seq \(unescaped: order) LIMIT \(min(max(0, limit), Int(Int64.max)))
            """) { out.append(try stored($0).message) }
        return out
    }

    public func pending(queue: String, limit: Int) async throws -> [Message] { try await list(queue, limit: limit, newestFirst: false) }

    public func recent(queue: String, limit: Int) async throws -> [Message] { try await list(queue, limit: limit, newestFirst: true) }

    public func backup(to path: String) async throws {
        try checkOpen()
        try await MessageExport.export(self, to: path)
    }

    public func restore(from path: String) async throws {
        guard FileManager.default.fileExists(atPath: path) else { throw MessageStoreError(.invalidArgument, "no backup at \(path)") }
        let t = t, logger = logger
        try await changeCatalog("restore") { cat, c in
            try await c.run("DELETE FROM \(unescaped: t)messages", logger: logger)
            try await c.run("DELETE FROM \(unescaped: t)removed_ids", logger: logger)
            cat = EntityCatalog()
        }
        _ = try await MessageExport.importFile(path, into: self, replace: false)
    }

    public func compact() async throws {
        let now = clock.now().millisecondsSince1970
        try await execute("compact", "DELETE FROM \(unescaped: t)removed_ids WHERE window_end <= \(Int(now))")
        try await execute("compact", "VACUUM \(unescaped: t)messages")
    }

    /// Refuses later calls with `.closed`, wakes waiting receivers, stops
    /// listening, and stops the client if the store runs it.
    public func close() async throws {
        closed.withLock { $0 = true }
        listener.cancel()
        gate.openAll()
        link.close()
    }

    // MARK: Entities

    private static func deleteMessages(of queues: [String], _ t: String, _ c: PostgresConnection, _ logger: Logger) async throws -> Int {
        var n = 0
        for try await count in try await c.query("""
            WITH d AS (DELETE FROM \(unescaped: t)messages WHERE queue = ANY(\(queues)) RETURNING 1) SELECT count(*)::bigint FROM d
            """, logger: logger).decode(Int.self) { n = count }
        return n
    }

    public func createQueue(_ name: String, settings: QueueSettings) async throws {
        try EntityCatalog.validateName(name, "queue")
        try settings.validate()
        try await changeCatalog("createQueue") { cat, _ in cat.queues[name] = settings }
    }

    public func deleteQueue(_ name: String) async throws {
        let t = t, logger = logger
        try await changeCatalog("deleteQueue") { cat, c in
            let known = cat.queues.removeValue(forKey: name) != nil
            let n = try await Self.deleteMessages(of: [name, EntityPath.deadLetterQueue(of: name)], t, c, logger)
            if !known && n == 0 { throw MessageStoreError(.notFound, "no queue \(name)") }
        }
    }

    public func queues() async throws -> [QueueDescription] {
        try checkOpen()
        return try await catalog().queues.sorted { $0.key < $1.key }.map { QueueDescription(name: $0.key, settings: $0.value) }
    }

    public func createTopic(_ name: String) async throws {
        try EntityCatalog.validateName(name, "topic")
        try await changeCatalog("createTopic") { cat, _ in if cat.topics[name] == nil { cat.topics[name] = [:] } }
    }

    public func deleteTopic(_ name: String) async throws {
        let t = t, logger = logger
        try await changeCatalog("deleteTopic") { cat, c in
            guard let subs = cat.topics.removeValue(forKey: name) else { throw MessageStoreError(.notFound, "no topic \(name)") }
            let qs = subs.keys.map { EntityPath.subscriptionQueue(topic: name, subscription: $0) }
            _ = try await Self.deleteMessages(of: qs + qs.map(EntityPath.deadLetterQueue(of:)), t, c, logger)
        }
    }

    public func topics() async throws -> [String] {
        try checkOpen()
        return try await catalog().topics.keys.sorted()
    }

    public func createSubscription(_ name: String, topic: String, settings: QueueSettings, filter: SubscriptionFilter) async throws {
        try EntityCatalog.validateName(name, "subscription")
        try settings.validate()
        try await changeCatalog("createSubscription") { cat, _ in
            guard cat.topics[topic] != nil else { throw MessageStoreError(.notFound, "no topic \(topic)") }
            cat.topics[topic]![name] = EntityCatalog.Subscription(settings: settings, filter: filter)
        }
    }

    public func deleteSubscription(_ name: String, topic: String) async throws {
        let t = t, logger = logger
        try await changeCatalog("deleteSubscription") { cat, c in
            guard cat.topics[topic]?.removeValue(forKey: name) != nil else {
                throw MessageStoreError(.notFound, "no subscription \(name) of topic \(topic)")
            }
            let q = EntityPath.subscriptionQueue(topic: topic, subscription: name)
            _ = try await Self.deleteMessages(of: [q, EntityPath.deadLetterQueue(of: q)], t, c, logger)
        }
    }

    public func subscriptions(topic: String) async throws -> [SubscriptionDescription] {
        try checkOpen()
        guard let subs = try await catalog().topics[topic] else { throw MessageStoreError(.notFound, "no topic \(topic)") }
        return subs.sorted { $0.key < $1.key }.map {
            SubscriptionDescription(name: $0.key, topic: topic, settings: $0.value.settings, filter: $0.value.filter)
        }
    }

    // MARK: Broker semantics

    public func publish(_ messages: [Message], topic: String) async throws -> Int {
        try checkOpen()
        let copies = try await catalog().fanOut(messages, topic: topic)
        try await add(contentsOf: copies)
        return copies.count
    }

    static func uuid(_ b: ByteBuffer) throws -> UUID {
        guard b.readableBytes == 16 else { throw MessageStoreError(.corruption, "a lock token is \(b.readableBytes) bytes, not 16") }
        let v = Array(b.readableBytesView)
        return UUID(uuid: (v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11], v[12], v[13], v[14], v[15]))
    }

    static func buffer(_ u: UUID) -> ByteBuffer { withUnsafeBytes(of: u.uuid) { ByteBuffer(bytes: $0) } }

    /// The `maxDeliveryCount` the receive and abandon functions compare
    /// with: none for a dead-letter queue (`BrokerPolicy` delivers from it
    /// whatever the count).
    private static func deliveryLimit(_ queue: String, _ settings: QueueSettings) -> Int {
        EntityPath.isDeadLetterQueue(queue) ? Int(Int32.max) : settings.maxDeliveryCount
    }

    public func receive(queue: String, limit: Int, lockDuration: Duration?) async throws -> [ReceivedMessage] {
        try checkOpen()
        let nowDate = clock.now()
        let now = nowDate.millisecondsSince1970
        let settings = try await catalog().settings(of: queue)
        let until = now + (try BrokerPolicy.lockDuration(lockDuration, settings)).milliseconds
        let maxCount = Self.deliveryLimit(queue, settings)
        let expiry = !EntityPath.isDeadLetterQueue(queue)
        var out: [ReceivedMessage] = []
        while out.count < limit {
            let want = min(limit - out.count, 1 << 20)
            var flagged: [Stored] = []
            var got = 0
            try await rows("receive", """
                SELECT * FROM \(unescaped: t)receive(\(queue), \(Int(now)), \(want), \(Int(until)), \(maxCount), \(expiry))
                """) { row in
                let (seq, visible, record, count, token, isFlagged) = try row.decode((Int, Int, ByteBuffer, Int, ByteBuffer?, Bool).self)
                var m = try MessageCodec.decode(Array(record.readableBytesView))
                m.deliveryCount = count
                got += 1
                if isFlagged || token == nil {
                    flagged.append(Stored(seq: Int64(seq), message: m, visibleAt: Int64(visible)))
                } else {
                    out.append(ReceivedMessage(message: m, lockToken: LockToken(id: try Self.uuid(token!), messageID: m.id, queue: queue),
                                               lockedUntil: Self.date(until)))
                }
            }
            var settled = 0
            for s in flagged {
                switch BrokerPolicy.onReceive(s.message, queue: queue, settings, now: nowDate) {
                case .drop:
                    let window = BrokerPolicy.duplicateWindowEnd(s.message, settings, now: nowDate).map { _ in
                        Int(settings.duplicateDetectionWindow?.milliseconds ?? 0)
                    } ?? -1
                    _ = try await committed("receive (drop expired)", "SELECT \(unescaped: t)drop(\(Int(s.seq)), \(Int(now)), \(window))")
                    settled += 1
                case .deadLetter(let reason):
                    _ = try await move(s, token: nil, reason: reason, now: now)
                    settled += 1
                case .deliver:
                    break  // the statement's predicates and the policy disagree: leave it (never loop on it)
                }
            }
            if got < want || settled == 0 { break }
        }
        return out
    }

    /// Moves `s` to its dead-letter queue (held by `token`, or unlocked when
    /// nil); false when it is no longer in that state.
    private func move(_ s: Stored, token: ByteBuffer?, reason: String, now: Int64) async throws -> Bool {
        let m = BrokerPolicy.deadLettered(s.message, reason: reason)
        let record = ByteBuffer(bytes: MessageCodec.encode(m))
        let expires = m.expiresAt.map { Int($0.millisecondsSince1970) }
        var moved = false
        for row in try await committed("dead-letter", """
            SELECT \(unescaped: t)move(\(Int(s.seq)), \(token), \(Int(now)), \(m.id), \(m.queue), \(record), \(m.payload.count),
                \(Int(m.timestamp.millisecondsSince1970)), \(expires), \(m.deliveryCount))
            """) { moved = try row.decode(Bool.self) }
        if moved { arrived([m.queue]) }
        return moved
    }

    /// The row `token` holds now, or `.lockLost`.
    private func held(_ token: LockToken, now: Int64) async throws -> Stored {
        var found: Stored?
        try await rows("lock check", """
            SELECT \(unescaped: columns) FROM \(unescaped: t)messages WHERE id = \(token.messageID) AND queue = \(token.queue)
              AND lock_token = \(Self.buffer(token.id)) AND locked_until > \(Int(now))
            """) { found = try stored($0) }
        guard let found else { throw Self.lockLost(token) }
        return found
    }

    private static func lockLost(_ token: LockToken) -> MessageStoreError {
        MessageStoreError(.lockLost, "\(token) is not held (expired, released, settled or never issued)")
    }

    public func complete(_ tokens: [LockToken]) async throws {
        try checkOpen()
        guard !tokens.isEmpty else { return }
        let nowDate = clock.now()
        let now = nowDate.millisecondsSince1970
        let cat = try await catalog()
        let windows = tokens.map { Int(cat.settings(of: $0.queue).duplicateDetectionWindow?.milliseconds ?? -1) }
        let ids = tokens.map(\.messageID), queues = tokens.map(\.queue), locks = tokens.map { Self.buffer($0.id) }
        try await execute("complete", "CALL \(unescaped: t)complete_committed(\(ids), \(queues), \(locks), \(windows), \(Int(now)))")
    }

    public func abandon(_ token: LockToken) async throws {
        try checkOpen()
        let now = clock.now().millisecondsSince1970
        let settings = try await catalog().settings(of: token.queue)
        var outcome = 0
        for row in try await committed("abandon", """
            SELECT \(unescaped: t)abandon(\(token.messageID), \(token.queue), \(Self.buffer(token.id)), \(Int(now)), \(Self.deliveryLimit(token.queue, settings)))
            """) { outcome = try row.decode(Int.self) }
        switch outcome {
        case 1: arrived([token.queue])
        case 2:
            let s = try await held(token, now: now)
            guard let reason = BrokerPolicy.onAbandon(s.message, queue: token.queue, settings) else {
                // Counted out by the statement but not by the policy: release it.
                _ = try await committed("abandon", "UPDATE \(unescaped: t)messages SET lock_token = NULL, locked_until = 0 WHERE seq = \(Int(s.seq))")
                arrived([token.queue])
                return
            }
            guard try await move(s, token: Self.buffer(token.id), reason: reason, now: now) else { throw Self.lockLost(token) }
        default: throw Self.lockLost(token)
        }
    }

    public func deadLetter(_ token: LockToken, reason: String) async throws {
        try checkOpen()
        let now = clock.now().millisecondsSince1970
        let s = try await held(token, now: now)
        guard try await move(s, token: Self.buffer(token.id), reason: reason, now: now) else { throw Self.lockLost(token) }
    }

    public func renewLock(_ token: LockToken) async throws -> Date {
        try checkOpen()
        let now = clock.now().millisecondsSince1970
        let until = now + (try await catalog().settings(of: token.queue).lockDuration.milliseconds)
        var renewed = false
        try await rows("renewLock", """
            UPDATE \(unescaped: t)messages SET locked_until = \(Int(until))
            WHERE id = \(token.messageID) AND queue = \(token.queue) AND lock_token = \(Self.buffer(token.id)) AND locked_until > \(Int(now))
            RETURNING 1
            """) { _ in renewed = true }
        guard renewed else { throw Self.lockLost(token) }
        return Self.date(until)
    }

    public func purge(queue: String) async throws -> Int {
        let t = t, logger = logger
        return try await transaction("purge") { c in try await Self.deleteMessages(of: [queue], t, c, logger) }
    }

    public func statistics(queue: String) async throws -> QueueStatistics {
        let now = Int(clock.now().millisecondsSince1970)
        var st = QueueStatistics()
        try await rows("statistics", """
            SELECT count(*) FILTER (WHERE visible_at > \(now)),
                   count(*) FILTER (WHERE visible_at <= \(now) AND lock_token IS NOT NULL AND locked_until > \(now)),
                   count(*) FILTER (WHERE visible_at <= \(now) AND NOT (lock_token IS NOT NULL AND locked_until > \(now))),
                   coalesce(sum(size), 0)::bigint, min(timestamp_ms),
                   (SELECT count(*) FROM \(unescaped: t)messages WHERE queue = \(EntityPath.deadLetterQueue(of: queue)))
            FROM \(unescaped: t)messages WHERE queue = \(queue)
            """) { row in
            let (scheduled, locked, active, bytes, oldest, dead) = try row.decode((Int, Int, Int, Int, Int?, Int).self)
            st.scheduled = scheduled
            st.locked = locked
            st.active = active
            st.bytes = bytes
            st.deadLettered = dead
            st.oldestAge = oldest.map { .milliseconds(max(0, now - $0)) }
        }
        return st
    }

    // MARK: Long polling

    /// Waits on notifications of `queue` (from this and every other
    /// process), and on the next moment a message becomes visible or a lock
    /// expires there; without a live listener it looks every 100 ms.
    public func receive(queue: String, limit: Int, lockDuration: Duration?, maxWait: Duration) async throws -> [ReceivedMessage] {
        let deadline = ContinuousClock.now + maxWait
        while true {
            try Task.checkCancellation()
            let ticket = gate.ticket(queue)
            let got = try await receive(queue: queue, limit: limit, lockDuration: lockDuration)
            let left = deadline - ContinuousClock.now
            if !got.isEmpty || left <= .zero { return got }
            var wait = left
            if let due = try await nextDue(queue) {
                wait = min(wait, .milliseconds(max(5, due - clock.now().millisecondsSince1970)))
            }
            if !catalogCache.isListening { wait = min(wait, .milliseconds(100)) }
            try await gate.wait(ticket, timeout: wait)
        }
    }

    /// The millisecond the next message of `queue` becomes visible or
    /// unlocked, nil when the queue is empty.
    private func nextDue(_ queue: String) async throws -> Int64? {
        let now = Int(clock.now().millisecondsSince1970)
        var due: Int?
        try await rows("receive (wait)", """
            SELECT min(CASE WHEN lock_token IS NOT NULL AND locked_until > \(now) THEN locked_until ELSE visible_at END)
            FROM \(unescaped: t)messages WHERE queue = \(queue)
            """) { due = try $0.decode(Int?.self) }
        return due.map(Int64.init)
    }
}

extension PostgresMessageStore: DuplicateWindowExport {
    /// Every id still inside its duplicate window (`removed_ids`), ordered by id.
    public func duplicateWindowMarkers() async throws -> [DuplicateWindowMarker] {
        let now = Int(clock.now().millisecondsSince1970)
        var out: [DuplicateWindowMarker] = []
        try await rows("duplicate windows", """
            SELECT id, window_end FROM \(unescaped: t)removed_ids WHERE window_end > \(now) ORDER BY id COLLATE "C"
            """) { row in
            let (id, end) = try row.decode((String, Int).self)
            out.append(DuplicateWindowMarker(id: id, until: Self.date(Int64(end))))
        }
        return out
    }

    /// Records `markers` in one statement; an id stored as a message keeps its message.
    public func recordDuplicateWindowMarkers(_ markers: [DuplicateWindowMarker]) async throws {
        guard !markers.isEmpty else { return }
        let ids = markers.map(\.id), ends = markers.map { Int(($0.until.timeIntervalSince1970 * 1000).rounded()) }
        _ = try await committed("record duplicate windows", """
            INSERT INTO \(unescaped: t)removed_ids(id, window_end)
            SELECT DISTINCT ON (k.id) k.id, k.e FROM unnest(\(ids)::text[], \(ends)::bigint[]) WITH ORDINALITY AS k(id, e, n)
            WHERE NOT EXISTS (SELECT 1 FROM \(unescaped: t)messages m WHERE m.id = k.id)
            ORDER BY k.id, k.n DESC
            ON CONFLICT (id) DO UPDATE SET window_end = EXCLUDED.window_end
            """)
    }

    /// Forgets every marker.
    public func clearDuplicateWindowMarkers() async throws {
        _ = try await committed("clear duplicate windows", "DELETE FROM \(unescaped: t)removed_ids")
    }
}
