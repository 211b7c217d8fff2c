import Foundation
import Logging
import PostgresNIO
import StrataMessageCore

/// Named snapshots of the PostgreSQL store, kept in the same database:
/// snapshot `name` is three tables `<prefix>snap_<tag>_messages`,
/// `…_removed_ids`, `…_catalog` (copies made with `CREATE TABLE … AS SELECT`)
/// and a row in `<prefix>snapshots(name, tag, created_ms, bytes, rows)`.
/// All of it is created in one REPEATABLE READ transaction, so the copy is
/// consistent and a crash, a kill or a lost connection in the middle rolls
/// everything back: no partial snapshot, earlier ones untouched.
extension PostgresMessageStore {
    /// Retention (`maxSnapshots`); `directory` is not used (snapshots are tables).
    public var snapshotOptions: SnapshotOptions {
        get { snapshotSettings.options }
        set { snapshotSettings.options = newValue }
    }

    /// Runs between the steps of `createSnapshot`, inside its transaction —
    /// for crash tests only.
    package var snapshotHook: SnapshotHook? {
        get { snapshotSettings.hook }
        set { snapshotSettings.hook = newValue }
    }

    private static func ensureSnapshotTable(_ t: String, _ c: PostgresConnection, _ logger: Logger) async throws {
        try await c.run("""
            CREATE TABLE IF NOT EXISTS \(unescaped: t)snapshots(
                name TEXT PRIMARY KEY, tag TEXT NOT NULL, created_ms BIGINT NOT NULL, bytes BIGINT NOT NULL, rows BIGINT NOT NULL)
            """, logger: logger)
    }

    private static func tables(_ t: String, _ tag: String) -> [(live: String, copy: String)] {
        ["messages", "removed_ids", "catalog"].map { ("\(t)\($0)", "\(t)snap_\(tag)_\($0)") }
    }

    private static func int(_ q: PostgresQuery, _ c: PostgresConnection, _ logger: Logger) async throws -> Int {
        var n = 0
        for try await v in try await c.query(q, logger: logger).decode(Int.self) { n = v }
        return n
    }

    @discardableResult
    public func createSnapshot(name: String) async throws -> SnapshotInfo {
        try SnapshotInfo.validate(name: name)
        let hook = snapshotHook
        let tag = String(UInt64.random(in: .min ... .max), radix: 16)
        let now = Date().millisecondsSince1970
        let t = t, logger = logger
        let lockKey = t + "schema"
        let info: SnapshotInfo = try await run("createSnapshot") { c in
            // Serialises snapshot creation with other openers and snapshotters.
            try await c.run("SELECT pg_advisory_lock(hashtext(\(lockKey)))", logger: logger)
            do {
                try await Self.ensureSnapshotTable(t, c, logger)
                let info = try await c.withTransaction(logger: logger) { c in
                    try await c.run("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ", logger: logger)
                    if try await Self.int("SELECT count(*)::bigint FROM \(unescaped: t)snapshots WHERE name = \(name)", c, logger) > 0 {
                        throw MessageStoreError(.alreadyExists, "snapshot \"\(name)\" already exists")
                    }
                    try hook?(.staged)
                    var bytes = 0
                    for (live, copy) in Self.tables(t, tag) {
                        try await c.run("CREATE TABLE \(unescaped: copy) AS SELECT * FROM \(unescaped: live)", logger: logger)
                        bytes += try await Self.int("SELECT pg_total_relation_size(\(copy)::regclass)", c, logger)
                    }
                    let rows = try await Self.int("SELECT count(*)::bigint FROM \(unescaped: t)snap_\(unescaped: tag)_messages", c, logger)
                    try hook?(.copied)
                    try await c.run("""
                        INSERT INTO \(unescaped: t)snapshots(name, tag, created_ms, bytes, rows)
                        VALUES (\(name), \(tag), \(Int(now)), \(bytes), \(rows))
                        """, logger: logger)
                    return SnapshotInfo(name: name, date: Self.date(now), bytes: Int64(bytes))
                }
                try await c.run("SELECT pg_advisory_unlock(hashtext(\(lockKey)))", logger: logger)
                return info
            } catch {
                _ = try? await c.run("SELECT pg_advisory_unlock(hashtext(\(lockKey)))", logger: logger)
                throw error
            }
        }
        try snapshotHook?(.published)
        let keep = snapshotOptions.maxSnapshots
        if keep > 0 {
            for old in try await snapshots().filter({ $0.name != name }).dropLast(keep - 1) { try await deleteSnapshot(name: old.name) }
        }
        return info
    }

    public func snapshots() async throws -> [SnapshotInfo] {
        let t = t, logger = logger
        return try await transaction("snapshots") { c in
            try await Self.ensureSnapshotTable(t, c, logger)
            var out: [SnapshotInfo] = []
            for try await (name, created, bytes) in try await c.query("SELECT name, created_ms, bytes FROM \(unescaped: t)snapshots ORDER BY created_ms, name",
                                                                      logger: logger).decode((String, Int, Int).self) {
                out.append(SnapshotInfo(name: name, date: Self.date(Int64(created)), bytes: Int64(bytes)))
            }
            return out
        }
    }

    private static func tag(of name: String, _ t: String, _ c: PostgresConnection, _ logger: Logger) async throws -> (tag: String, rows: Int) {
        try await ensureSnapshotTable(t, c, logger)
        var found: (String, Int)?
        for try await r in try await c.query("SELECT tag, rows FROM \(unescaped: t)snapshots WHERE name = \(name)", logger: logger)
            .decode((String, Int).self) { found = r }
        guard let found else { throw MessageStoreError(.notFound, "no snapshot \"\(name)\"") }
        return found
    }

    /// Replaces messages, removed ids and catalog with the snapshot's, in one
    /// transaction; refused (and rolled back) if the copy does not hold the
    /// number of messages recorded when it was taken.
    public func restoreSnapshot(name: String) async throws {
        try SnapshotInfo.validate(name: name)
        let t = t, logger = logger
        defer { catalogCache.invalidate() }
        try await transaction("restoreSnapshot") { c in
            let (tag, rows) = try await Self.tag(of: name, t, c, logger)
            for (live, copy) in Self.tables(t, tag) {
                try await c.run("LOCK TABLE \(unescaped: live) IN ACCESS EXCLUSIVE MODE", logger: logger)
                try await c.run("DELETE FROM \(unescaped: live)", logger: logger)
                try await c.run("INSERT INTO \(unescaped: live) SELECT * FROM \(unescaped: copy)", logger: logger)
            }
            let restored = try await Self.int("SELECT count(*)::bigint FROM \(unescaped: t)messages", c, logger)
            guard restored == rows else {
                throw MessageStoreError(.corruption, "snapshot \"\(name)\" holds \(restored) messages, \(rows) were recorded; restore refused")
            }
            try await c.run("SELECT pg_notify(\(PostgresSchema.channel(t)), 'c')", logger: logger)
        }
    }

    public func deleteSnapshot(name: String) async throws {
        try SnapshotInfo.validate(name: name)
        let t = t, logger = logger
        try await transaction("deleteSnapshot") { c in
            let (tag, _) = try await Self.tag(of: name, t, c, logger)
            for (_, copy) in Self.tables(t, tag) { try await c.run("DROP TABLE IF EXISTS \(unescaped: copy)", logger: logger) }
            try await c.run("DELETE FROM \(unescaped: t)snapshots WHERE name = \(name)", logger: logger)
        }
    }

    /// The connection answers; the server is not a read-only standby.
    /// (Free disk is the server's: not visible from here.)
    public func health(thresholds: HealthThresholds) async throws -> StoreHealth {
        do {
            try checkOpen()
            var reasons: [HealthReason] = []
            try await rows("health", "SELECT pg_is_in_recovery(), current_setting('default_transaction_read_only')") { row in
                let (recovery, readOnly) = try row.decode((Bool, String).self)
                if recovery { reasons.append(HealthReason(.readOnly, .critical, "the server is in recovery (a read-only standby)")) }
                if readOnly == "on" { reasons.append(HealthReason(.readOnly, .critical, "default_transaction_read_only is on")) }
            }
            if thresholds.verifyData { _ = try await catalog() }
            return StoreHealth(reasons: reasons)
        } catch {
            return StoreHealth(reasons: [HealthReason.from(error)])
        }
    }

    /// Total relation size (with indexes and TOAST) of the store's tables.
    public func storageBytes() async throws -> Int64 {
        var n = 0
        try await rows("storageBytes", """
            SELECT pg_total_relation_size(\(t + "messages")::regclass) + pg_total_relation_size(\(t + "removed_ids")::regclass) + pg_total_relation_size(\(t + "catalog")::regclass)
            """) { n = try $0.decode(Int.self) }
        return Int64(n)
    }
}
