import Foundation
#if canImport(Glibc)
import Glibc
#endif
import StrataMessageCore

/// The message store on SQLite (WAL journal), for brokers that want a single
/// file and SQL tooling, and as the comparison point of the benchmarks. Same
/// semantics as every backend (the contract tests run against it). One
/// connection whose statements run on the store's own serial queue
/// (`SQLiteExecutor`): callers suspend instead of blocking the cooperative
/// pool on the disk, and concurrency buys nothing beyond one writer at a
/// time; `Docs/message-store.md` has the schema.
public final class SQLiteMessageStore: MessageStore {
    /// SQLite's `PRAGMA synchronous`: `.full` syncs the WAL at every commit
    /// (durable like `.syncDurable`); `.normal` syncs only at checkpoints (a
    /// power loss may drop the last commits, a process crash does not).
    public enum Synchronous: String, Sendable {
        case full = "FULL"
        case normal = "NORMAL"
    }

    private let executor: SQLiteExecutor
    /// Wakes long polls when a message arrives or is unlocked.
    private let arrivals = QueueSignals()
    private let clock: MessageClock
    let path: String
    private let synchronous: Synchronous
    /// Boundaries of served pages (SQLiteMessageStore+Paging.swift).
    let cursors = PageCursors<OrderPosition>()
    /// Named snapshots' directory and retention (SQLiteMessageStore+Snapshots.swift).
    let snapshotSettings: SnapshotSettings

    /// Opens (creating if needed) the store in the SQLite file at `path`.
    public init(path: String, synchronous: Synchronous = .full, clock: MessageClock = .system) throws {
        self.path = path
        self.clock = clock
        self.synchronous = synchronous
        snapshotSettings = SnapshotSettings(defaultDirectory: path + ".snapshots")
        let c = try Self.openConnection(path, synchronous)
        executor = SQLiteExecutor(c, label: "strata.sqlite-messages", closedMessage: "store at \(path) is closed")
    }

    private static func openConnection(_ path: String, _ synchronous: Synchronous) throws -> SQLiteConnection {
        let c = try SQLiteConnection(path: path)
        try c.exec("""
            PRAGMA journal_mode=WAL;
            PRAGMA synchronous=\(synchronous.rawValue);
            """)
        try SQLiteSchema.migrate(c, .messageStore)
        return c
    }

    /// Runs `body` on the store's queue (`SQLiteExecutor`); the caller suspends.
    func locked<T: Sendable>(_ body: @escaping @Sendable (SQLiteConnection) throws -> T) async throws -> T {
        try await executor.run(body)
    }

    func loadCatalog(_ c: SQLiteConnection) throws -> EntityCatalog {
        var catalog = EntityCatalog()
        try c.query("SELECT json FROM catalog WHERE k = 0") { row in
            do { catalog = try JSONDecoder().decode(EntityCatalog.self, from: Data(row.blob(0))) } catch {
                throw MessageStoreError(.corruption, "\(path): catalog row is undecodable: \(error)")
            }
            return false
        }
        return catalog
    }

    private func saveCatalog(_ catalog: EntityCatalog, _ c: SQLiteConnection) throws {
        try c.query("INSERT OR REPLACE INTO catalog(k, json) VALUES (0, ?1)", [.blob(Array(try JSONEncoder().encode(catalog)))])
    }

    public func initialize() async throws { try await locked { _ in } }

    // MARK: Core

    public func add(_ message: Message) async throws { try await add(contentsOf: [message]) }

    public func add(contentsOf messages: [Message]) async throws {
        let now = clock.now().millisecondsSince1970
        try await locked { [self] c in try c.transaction { try insert(messages, now: now, c) } }
        arrivals.wake(messages.map(\.queue))
    }

    private func insert(_ messages: [Message], now: Int64, _ c: SQLiteConnection) throws {
        var catalog = try loadCatalog(c)
        var catalogChanged = false
        var seen = Set<String>()
        for m in messages {
            try InMemoryMessageStore.validate(m)
            try catalog.validateAddTarget(m.queue)
            var duplicate = !seen.insert(m.id).inserted
            try c.query("SELECT 1 FROM messages WHERE id = ?1", [.text(m.id)]) { _ in duplicate = true; return false }
            try c.query("SELECT 1 FROM removed_ids WHERE id = ?1 AND window_end > ?2", [.text(m.id), .int(now)]) { _ in duplicate = true; return false }
            if duplicate { throw MessageStoreError(.duplicateId, "a message with id \(m.id) is already stored or inside its duplicate window") }
        }
        for var m in messages {
            if catalog.needsImplicitRegistration(m.queue) {
                catalog.queues[m.queue] = QueueSettings()
                catalogChanged = true
            }
            m = try BrokerPolicy.admit(m, catalog.settings(of: m.queue))
            try c.query("DELETE FROM removed_ids WHERE id = ?1", [.text(m.id)])
            try c.query("""
                INSERT INTO messages(id, queue, visible_at, record, size, timestamp_ms, expires_at, delivery_count)
                VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                """, [.text(m.id), .text(m.queue), .int((m.scheduledAt ?? m.timestamp).millisecondsSince1970),
                      .blob(MessageCodec.encode(m)), .int(Int64(m.payload.count)), .int(m.timestamp.millisecondsSince1970),
                      m.expiresAt.map { .int($0.millisecondsSince1970) } ?? .null, .int(Int64(m.deliveryCount))])
        }
        if catalogChanged { try saveCatalog(catalog, c) }
    }

    /// A stored row.
    struct Stored {
        var seq: Int64
        var message: Message
        var visibleAt: Int64
        var lock: [UInt8]?
        var lockedUntil: Int64
    }

    static let columns = "seq, record, delivery_count, visible_at, lock_token, locked_until"

    func stored(_ row: SQLiteConnection.Row) throws -> Stored {
        var m = try MessageCodec.decode(row.blob(1))
        m.deliveryCount = Int(row.int(2))
        return Stored(seq: row.int(0), message: m, visibleAt: row.int(3), lock: row.isNull(4) ? nil : row.blob(4), lockedUntil: row.int(5))
    }

    private func row(id: String, _ c: SQLiteConnection) throws -> Stored? {
        var s: Stored?
        try c.query("SELECT \(Self.columns) FROM messages WHERE id = ?1", [.text(id)]) { s = try stored($0); return false }
        return s
    }

    public func get(id: String) async throws -> Message? {
        try await locked { [self] c in try row(id: id, c)?.message }
    }

    private func drop(_ s: Stored, now: Int64, _ catalog: EntityCatalog, _ c: SQLiteConnection) throws {
        try c.query("DELETE FROM messages WHERE seq = ?1", [.int(s.seq)])
        if let end = BrokerPolicy.duplicateWindowEnd(s.message, catalog.settings(of: s.message.queue), now: Date(timeIntervalSince1970: Double(now) / 1000)) {
            try c.query("INSERT OR REPLACE INTO removed_ids(id, window_end) VALUES (?1, ?2)", [.text(s.message.id), .int(end.millisecondsSince1970)])
        }
    }

    public func remove(id: String) async throws {
        let now = clock.now().millisecondsSince1970
        try await locked { [self] c in
            try c.transaction {
                if let s = try row(id: id, c) { try drop(s, now: now, try loadCatalog(c), c) }
            }
        }
    }

    public func pending(queue: String, limit: Int) async throws -> [Message] {
        try await locked { [self] c in
            var out: [Message] = []
            try c.query("SELECT \(Self.columns) FROM messages WHERE queue = ?1 ORDER BY visible_at, seq LIMIT ?2",
                        [.text(queue), .int(Int64(max(0, limit)))]) { out.append(try stored($0).message); return true }
            return out
        }
    }

    public func recent(queue: String, limit: Int) async throws -> [Message] {
        try await locked { [self] c in
            var out: [Message] = []
            try c.query("SELECT \(Self.columns) FROM messages WHERE queue = ?1 ORDER BY visible_at DESC, seq DESC LIMIT ?2",
                        [.text(queue), .int(Int64(max(0, limit)))]) { out.append(try stored($0).message); return true }
            return out
        }
    }

    public func backup(to target: String) async throws {
        guard !FileManager.default.fileExists(atPath: target) else {
            throw MessageStoreError(.invalidArgument, "backup target \(target) already exists")
        }
        try await locked { c in try c.query("VACUUM INTO ?1", [.text(target)]) }
    }

    /// Replaces the store with the SQLite file at `source` without writing
    /// to it: the file is copied beside the store (`<path>.restore`) and
    /// fsynced, the copy is checked by opening it, the live database is
    /// checkpointed and closed, and the copy is renamed over it (atomic)
    /// with the directory fsynced. A crash before the rename leaves the old
    /// store, after it the restored one; never neither.
    public func restore(from source: String) async throws {
        guard FileManager.default.fileExists(atPath: source) else { throw MessageStoreError(.notFound, "no backup at \(source)") }
        let path = path, synchronous = synchronous
        // One job on the store's queue: the copy, the check and the swap
        // block that thread, never the cooperative pool, and no statement
        // runs between the checkpoint and the rename.
        try await executor.replacing { [self] c in
            guard let old = c else { throw MessageStoreError(.closed, "store at \(path) is closed") }
            let staged = path + ".restore"
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: staged + suffix) }
            do {
                try Self.durableCopy(source, to: staged)
                let probe = try Self.openConnection(staged, synchronous)
                defer { probe.close() }
                _ = try loadCatalog(probe)
                try probe.exec("PRAGMA wal_checkpoint(TRUNCATE)")
                try Self.fsync(path: staged)
            } catch {
                for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: staged + suffix) }
                throw error
            }
            try old.exec("PRAGMA wal_checkpoint(TRUNCATE)")
            old.close()
            c = nil
            // The checkpoint left the live file complete: its log can go.
            for suffix in ["-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
            guard rename(staged, path) == 0 else {
                let e = errno
                c = try? Self.openConnection(path, synchronous)
                throw MessageStoreError(.ioError, "cannot move \(staged) to \(path): \(String(cString: strerror(e)))")
            }
            try Self.fsync(path: (path as NSString).deletingLastPathComponent.isEmpty ? "." : (path as NSString).deletingLastPathComponent)
            c = try Self.openConnection(path, synchronous)
        }
    }

    /// Copies `source` to `target` (created, must not exist) and fsyncs it;
    /// reads `source` only.
    private static func durableCopy(_ source: String, to target: String) throws {
        let input = open(source, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else { throw MessageStoreError(.ioError, "cannot read backup \(source): \(String(cString: strerror(errno)))") }
        defer { Glibc.close(input) }
        let output = open(target, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard output >= 0 else { throw MessageStoreError(.ioError, "cannot create \(target): \(String(cString: strerror(errno)))") }
        defer { Glibc.close(output) }
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(input, $0.baseAddress, $0.count) }
            if n < 0 { throw MessageStoreError(.ioError, "reading \(source): \(String(cString: strerror(errno)))") }
            if n == 0 { break }
            var written = 0
            while written < n {
                let w = buffer.withUnsafeBytes { write(output, $0.baseAddress! + written, n - written) }
                if w < 0 {
                    let kind: MessageStoreError.Kind = errno == ENOSPC ? .storageFull : .ioError
                    throw MessageStoreError(kind, "writing \(target): \(String(cString: strerror(errno)))")
                }
                written += w
            }
        }
        guard Glibc.fsync(output) == 0 else { throw MessageStoreError(.ioError, "fsync \(target): \(String(cString: strerror(errno)))") }
    }

    /// fsyncs a file or directory.
    private static func fsync(path: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw MessageStoreError(.ioError, "cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { Glibc.close(fd) }
        guard Glibc.fsync(fd) == 0 else { throw MessageStoreError(.ioError, "fsync \(path): \(String(cString: strerror(errno)))") }
    }

    public func compact() async throws {
        let now = clock.now().millisecondsSince1970
        try await locked { c in
            try c.query("DELETE FROM removed_ids WHERE window_end <= ?1", [.int(now)])
            try c.exec("PRAGMA wal_checkpoint(TRUNCATE); VACUUM;")
        }
    }

    /// How long a statement waits for another process's lock on the file
    /// (default 5 s) before failing with `.unavailable`; a cancelled caller
    /// stops waiting at once (`CancellationError`).
    public func setBusyTimeout(_ timeout: Duration) async throws {
        try await executor.setBusyTimeout(milliseconds: Int(timeout.milliseconds))
    }

    /// Runs raw SQL on the store's connection (tests provoke SQLite errors
    /// with it, e.g. `PRAGMA max_page_count` for a full database).
    package func executeForTesting(_ sql: String) async throws {
        try await locked { c in try c.exec(sql) }
    }

    public func close() async throws {
        try await executor.replacing { c in
            c?.close()
            c = nil
        }
    }

    // MARK: Entities

    private func changeCatalog<T: Sendable>(_ body: @escaping @Sendable (inout EntityCatalog, SQLiteConnection) throws -> T) async throws -> T {
        try await locked { [self] c in
            try c.transaction {
                var catalog = try loadCatalog(c)
                let r = try body(&catalog, c)
                try saveCatalog(catalog, c)
                return r
            }
        }
    }

    private func deleteMessages(of queues: [String], _ c: SQLiteConnection) throws -> Int {
        var n = 0
        for q in queues {
            try c.query("DELETE FROM messages WHERE queue = ?1", [.text(q)])
            n += c.changes
        }
        return n
    }

    public func createQueue(_ name: String, settings: QueueSettings) async throws {
        try EntityCatalog.validateName(name, "queue")
        try settings.validate()
        try await changeCatalog { cat, _ in cat.queues[name] = settings }
    }

    public func deleteQueue(_ name: String) async throws {
        try await changeCatalog { [self] cat, c in
            let known = cat.queues.removeValue(forKey: name) != nil
            let n = try deleteMessages(of: [name, EntityPath.deadLetterQueue(of: name)], c)
            if !known && n == 0 { throw MessageStoreError(.notFound, "no queue \(name)") }
        }
    }

    public func queues() async throws -> [QueueDescription] {
        try await locked { [self] c in try loadCatalog(c).queues.sorted { $0.key < $1.key }.map { QueueDescription(name: $0.key, settings: $0.value) } }
    }

    public func createTopic(_ name: String) async throws {
        try EntityCatalog.validateName(name, "topic")
        try await changeCatalog { cat, _ in if cat.topics[name] == nil { cat.topics[name] = [:] } }
    }

    public func deleteTopic(_ name: String) async throws {
        try await changeCatalog { [self] cat, c in
            guard let subs = cat.topics.removeValue(forKey: name) else { throw MessageStoreError(.notFound, "no topic \(name)") }
            let qs = subs.keys.map { EntityPath.subscriptionQueue(topic: name, subscription: $0) }
            _ = try deleteMessages(of: qs + qs.map(EntityPath.deadLetterQueue(of:)), c)
        }
    }

    public func topics() async throws -> [String] {
        try await locked { [self] c in try loadCatalog(c).topics.keys.sorted() }
    }

    public func createSubscription(_ name: String, topic: String, settings: QueueSettings, filter: SubscriptionFilter) async throws {
        try EntityCatalog.validateName(name, "subscription")
        try settings.validate()
        try await changeCatalog { cat, _ in
            guard cat.topics[topic] != nil else { throw MessageStoreError(.notFound, "no topic \(topic)") }
            cat.topics[topic]![name] = EntityCatalog.Subscription(settings: settings, filter: filter)
        }
    }

    public func deleteSubscription(_ name: String, topic: String) async throws {
        try await changeCatalog { [self] cat, c in
            guard cat.topics[topic]?.removeValue(forKey: name) != nil else {
                throw MessageStoreError(.notFound, "no subscription \(name) of topic \(topic)")
            }
            let q = EntityPath.subscriptionQueue(topic: topic, subscription: name)
            _ = try deleteMessages(of: [q, EntityPath.deadLetterQueue(of: q)], c)
        }
    }

    public func subscriptions(topic: String) async throws -> [SubscriptionDescription] {
        try await locked { [self] c in
            guard let subs = try loadCatalog(c).topics[topic] else { throw MessageStoreError(.notFound, "no topic \(topic)") }
            return subs.sorted { $0.key < $1.key }.map {
                SubscriptionDescription(name: $0.key, topic: topic, settings: $0.value.settings, filter: $0.value.filter)
            }
        }
    }

    // MARK: Broker semantics

    public func publish(_ messages: [Message], topic: String) async throws -> Int {
        let now = clock.now().millisecondsSince1970
        let copies = try await locked { [self] c in
            try c.transaction {
                let copies = try loadCatalog(c).fanOut(messages, topic: topic)
                try insert(copies, now: now, c)
                return copies
            }
        }
        arrivals.wake(copies.map(\.queue))
        return copies.count
    }

    private func moveToDeadLetter(_ s: Stored, reason: String, now: Int64, _ c: SQLiteConnection) throws {
        let m = BrokerPolicy.deadLettered(s.message, reason: reason)
        try c.query("DELETE FROM messages WHERE seq = ?1", [.int(s.seq)])
        try c.query("""
            INSERT INTO messages(id, queue, visible_at, record, size, timestamp_ms, expires_at, delivery_count)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
            """, [.text(m.id), .text(m.queue), .int(now), .blob(MessageCodec.encode(m)), .int(Int64(m.payload.count)),
                  .int(m.timestamp.millisecondsSince1970), m.expiresAt.map { .int($0.millisecondsSince1970) } ?? .null,
                  .int(Int64(m.deliveryCount))])
    }

    public func receive(queue: String, limit: Int, lockDuration: Duration?) async throws -> [ReceivedMessage] {
        let nowDate = clock.now()
        let now = nowDate.millisecondsSince1970
        return try await locked { [self] c in
            try c.transaction {
                let catalog = try loadCatalog(c)
                let settings = catalog.settings(of: queue)
                let until = now + (try BrokerPolicy.lockDuration(lockDuration, settings)).milliseconds
                var out: [ReceivedMessage] = []
                var after: (Int64, Int64) = (.min, .min)
                while out.count < limit {
                    var rows: [Stored] = []
                    try c.query("""
                        SELECT \(Self.columns) FROM messages
                        WHERE queue = ?1 AND visible_at <= ?2 AND (lock_token IS NULL OR locked_until <= ?2)
                          AND (visible_at > ?3 OR (visible_at = ?3 AND seq > ?4))
                        ORDER BY visible_at, seq LIMIT ?5
                        """, [.text(queue), .int(now), .int(after.0), .int(after.1), .int(Int64(min(limit - out.count, 1 << 20) + 8))]) {
                        rows.append(try stored($0))
                        return true
                    }
                    if rows.isEmpty { break }
                    for s in rows where out.count < limit {
                        after = (s.visibleAt, s.seq)
                        switch BrokerPolicy.onReceive(s.message, queue: queue, settings, now: nowDate) {
                        case .drop:
                            try drop(s, now: now, catalog, c)
                            continue
                        case .deadLetter(let reason):
                            try moveToDeadLetter(s, reason: reason, now: now, c)
                            continue
                        case .deliver: break
                        }
                        let token = UUID()
                        var m = s.message
                        m.deliveryCount += 1
                        try c.query("UPDATE messages SET delivery_count = ?1, lock_token = ?2, locked_until = ?3 WHERE seq = ?4",
                                    [.int(Int64(m.deliveryCount)), .blob(Self.bytes(token)), .int(until), .int(s.seq)])
                        out.append(ReceivedMessage(message: m, lockToken: LockToken(id: token, messageID: m.id, queue: queue),
                                                   lockedUntil: Date(timeIntervalSince1970: Double(until) / 1000)))
                    }
                }
                return out
            }
        }
    }

    /// Long polling woken by arrivals in `queue` (adds, publishes, abandons);
    /// at most 50 ms between tries for lock expiries and schedules, which
    /// send no signal. Cancellation ends it at once with `CancellationError`.
    public func receive(queue: String, limit: Int, lockDuration: Duration?, maxWait: Duration) async throws -> [ReceivedMessage] {
        try await longPoll(maxWait: maxWait, signal: { arrivals.signal(for: queue) }) {
            try await receive(queue: queue, limit: limit, lockDuration: lockDuration)
        }
    }

    private static func bytes(_ u: UUID) -> [UInt8] { withUnsafeBytes(of: u.uuid) { Array($0) } }

    /// The row `token` holds a live lock on, or `.lockLost`.
    private func held(_ token: LockToken, now: Int64, _ c: SQLiteConnection) throws -> Stored {
        guard let s = try row(id: token.messageID, c), s.message.queue == token.queue,
              s.lock == Self.bytes(token.id), s.lockedUntil > now else {
            throw MessageStoreError(.lockLost, "\(token) is not held (expired, released, settled or never issued)")
        }
        return s
    }

    public func complete(_ tokens: [LockToken]) async throws {
        let now = clock.now().millisecondsSince1970
        try await locked { [self] c in
            try c.transaction {
                let catalog = try loadCatalog(c)
                let rows = try tokens.map { try held($0, now: now, c) }
                for s in rows { try drop(s, now: now, catalog, c) }
            }
        }
    }

    public func abandon(_ token: LockToken) async throws {
        let now = clock.now().millisecondsSince1970
        try await locked { [self] c in
            try c.transaction {
                let s = try held(token, now: now, c)
                let settings = try loadCatalog(c).settings(of: token.queue)
                if let reason = BrokerPolicy.onAbandon(s.message, queue: token.queue, settings) {
                    try moveToDeadLetter(s, reason: reason, now: now, c)
                } else {
                    try c.query("UPDATE messages SET lock_token = NULL, locked_until = 0 WHERE seq = ?1", [.int(s.seq)])
                }
            }
        }
        arrivals.wake([token.queue, EntityPath.deadLetterQueue(of: token.queue)])
    }

    public func deadLetter(_ token: LockToken, reason: String) async throws {
        let now = clock.now().millisecondsSince1970
        try await locked { [self] c in
            try c.transaction { try moveToDeadLetter(try held(token, now: now, c), reason: reason, now: now, c) }
        }
        arrivals.wake([EntityPath.deadLetterQueue(of: token.queue)])
    }

    public func renewLock(_ token: LockToken) async throws -> Date {
        let now = clock.now().millisecondsSince1970
        return try await locked { [self] c in
            try c.transaction {
                let s = try held(token, now: now, c)
                let until = now + (try loadCatalog(c).settings(of: token.queue).lockDuration.milliseconds)
                try c.query("UPDATE messages SET locked_until = ?1 WHERE seq = ?2", [.int(until), .int(s.seq)])
                return Date(timeIntervalSince1970: Double(until) / 1000)
            }
        }
    }

    public func purge(queue: String) async throws -> Int {
        try await locked { [self] c in try c.transaction { try deleteMessages(of: [queue], c) } }
    }

    public func statistics(queue: String) async throws -> QueueStatistics {
        let now = clock.now().millisecondsSince1970
        return try await locked { c in
            var st = QueueStatistics()
            var oldest: Int64?
            try c.query("SELECT visible_at, lock_token IS NOT NULL AND locked_until > ?2, size, timestamp_ms FROM messages WHERE queue = ?1",
                        [.text(queue), .int(now)]) { r in
                st.bytes += Int(r.int(2))
                if r.int(0) > now { st.scheduled += 1 } else if r.int(1) != 0 { st.locked += 1 } else { st.active += 1 }
                oldest = min(oldest ?? r.int(3), r.int(3))
                return true
            }
            try c.query("SELECT count(*) FROM messages WHERE queue = ?1", [.text(EntityPath.deadLetterQueue(of: queue))]) {
                st.deadLettered = Int($0.int(0))
                return false
            }
            st.oldestAge = oldest.map { .milliseconds(max(0, now - $0)) }
            return st
        }
    }
}

extension SQLiteMessageStore: DuplicateWindowExport {
    /// Every id still inside its duplicate window (`removed_ids`), ordered by id.
    public func duplicateWindowMarkers() async throws -> [DuplicateWindowMarker] {
        let now = clock.now().millisecondsSince1970
        return try await locked { c in
            var out: [DuplicateWindowMarker] = []
            try c.query("SELECT id, window_end FROM removed_ids WHERE window_end > ?1 ORDER BY id", [.int(now)]) { row in
                out.append(DuplicateWindowMarker(id: row.text(0), until: Date(timeIntervalSince1970: Double(row.int(1)) / 1000)))
                return true
            }
            return out
        }
    }

    /// Records `markers` in one transaction; an id stored as a message keeps its message.
    public func recordDuplicateWindowMarkers(_ markers: [DuplicateWindowMarker]) async throws {
        try await locked { c in
            try c.transaction {
                for m in markers {
                    var stored = false
                    try c.query("SELECT 1 FROM messages WHERE id = ?1", [.text(m.id)]) { _ in stored = true; return false }
                    if !stored {
                        try c.query("INSERT OR REPLACE INTO removed_ids(id, window_end) VALUES (?1, ?2)", [.text(m.id), .int(Int64((m.until.timeIntervalSince1970 * 1000).rounded()))])
                    }
                }
            }
        }
    }

    /// Forgets every marker.
    public func clearDuplicateWindowMarkers() async throws {
        try await locked { c in try c.query("DELETE FROM removed_ids") }
    }
}
