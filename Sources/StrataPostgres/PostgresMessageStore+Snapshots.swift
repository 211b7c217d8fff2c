import Foundation
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

    private func ensureSnapshotTable(_ c: PostgresConnection) throws {
        try c.query("""
            CREATE TABLE IF NOT EXISTS \(t)snapshots(
                name TEXT PRIMARY KEY, tag TEXT NOT NULL, created_ms BIGINT NOT NULL, bytes BIGINT NOT NULL, rows BIGINT NOT NULL)
            """)
    }

    private func tables(_ tag: String) -> [(live: String, copy: String)] {
        ["messages", "removed_ids", "catalog"].map { ("\(t)\($0)", "\(t)snap_\(tag)_\($0)") }
    }

    @discardableResult
    public func createSnapshot(name: String) async throws -> SnapshotInfo {
        try SnapshotInfo.validate(name: name)
        let hook = snapshotHook
        let tag = String(UInt64.random(in: .min ... .max), radix: 16)
        let now = Date()
        let info: SnapshotInfo = try await offload { [self] in
            try pool.with { c in
                try c.query("SELECT pg_advisory_lock(hashtext($1))", [.text(t + "schema")])
                defer { _ = try? c.query("SELECT pg_advisory_unlock(hashtext($1))", [.text(t + "schema")]) }
                try ensureSnapshotTable(c)
                return try c.transaction {
                    try c.query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                    if try c.query("SELECT 1 FROM \(t)snapshots WHERE name = $1", [.text(name)]).count > 0 {
                        throw MessageStoreError(.alreadyExists, "snapshot \"\(name)\" already exists")
                    }
                    try hook?(.staged)
                    var bytes: Int64 = 0
                    for (live, copy) in tables(tag) {
                        try c.query("CREATE TABLE \(copy) AS SELECT * FROM \(live)")
                        bytes += try c.query("SELECT pg_total_relation_size('\(copy)')").int(0, 0)
                    }
                    let rows = try c.query("SELECT count(*) FROM \(t)snap_\(tag)_messages").int(0, 0)
                    try hook?(.copied)
                    try c.query("INSERT INTO \(t)snapshots(name, tag, created_ms, bytes, rows) VALUES ($1, $2, $3, $4, $5)",
                                [.text(name), .text(tag), .int(now.millisecondsSince1970), .int(bytes), .int(rows)])
                    return SnapshotInfo(name: name, date: Date(timeIntervalSince1970: Double(now.millisecondsSince1970) / 1000), bytes: bytes)
                }
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
        try await offload { [self] in
            try pool.with { c in
                try ensureSnapshotTable(c)
                let r = try c.query("SELECT name, created_ms, bytes FROM \(t)snapshots ORDER BY created_ms, name")
                return (0..<r.count).map { SnapshotInfo(name: r.text($0, 0), date: Date(timeIntervalSince1970: Double(r.int($0, 1)) / 1000), bytes: r.int($0, 2)) }
            }
        }
    }

    private func tag(of name: String, _ c: PostgresConnection) throws -> (tag: String, rows: Int64) {
        try ensureSnapshotTable(c)
        let r = try c.query("SELECT tag, rows FROM \(t)snapshots WHERE name = $1", [.text(name)])
        guard r.count == 1 else { throw MessageStoreError(.notFound, "no snapshot \"\(name)\"") }
        return (r.text(0, 0), r.int(0, 1))
    }

    /// Replaces messages, removed ids and catalog with the snapshot's, in one
    /// transaction; refused (and rolled back) if the copy does not hold the
    /// number of messages recorded when it was taken.
    public func restoreSnapshot(name: String) async throws {
        try SnapshotInfo.validate(name: name)
        try await offload { [self] in
            try pool.with { c in
                try c.transaction {
                    let (tag, rows) = try tag(of: name, c)
                    for (live, copy) in tables(tag) {
                        try c.query("LOCK TABLE \(live) IN ACCESS EXCLUSIVE MODE")
                        try c.query("DELETE FROM \(live)")
                        try c.query("INSERT INTO \(live) SELECT * FROM \(copy)")
                    }
                    let restored = try c.query("SELECT count(*) FROM \(t)messages").int(0, 0)
                    guard restored == rows else {
                        throw MessageStoreError(.corruption, "snapshot \"\(name)\" holds \(restored) messages, \(rows) were recorded; restore refused")
                    }
                }
            }
        }
    }

    public func deleteSnapshot(name: String) async throws {
        try SnapshotInfo.validate(name: name)
        try await offload { [self] in
            try pool.with { c in
                try c.transaction {
                    let (tag, _) = try tag(of: name, c)
                    for (_, copy) in tables(tag) { try c.query("DROP TABLE IF EXISTS \(copy)") }
                    try c.query("DELETE FROM \(t)snapshots WHERE name = $1", [.text(name)])
                }
            }
        }
    }

    /// The connection answers; the server is not a read-only standby.
    /// (Free disk is the server's: not visible from here.)
    public func health(thresholds: HealthThresholds) async throws -> StoreHealth {
        do {
            return try await offload { [self] in
                try pool.with { c in
                    let r = try c.query("SELECT pg_is_in_recovery()::text, current_setting('default_transaction_read_only')")
                    var reasons: [HealthReason] = []
                    if r.text(0, 0) == "true" { reasons.append(HealthReason(.readOnly, .critical, "the server is in recovery (a read-only standby)")) }
                    if r.text(0, 1) == "on" { reasons.append(HealthReason(.readOnly, .critical, "default_transaction_read_only is on")) }
                    if thresholds.verifyData { try c.query("SELECT json FROM \(t)catalog") }
                    return StoreHealth(reasons: reasons)
                }
            }
        } catch {
            return StoreHealth(reasons: [HealthReason(.connectionLost, .critical, "\(error)")])
        }
    }

    /// Total relation size (with indexes and TOAST) of the store's tables.
    public func storageBytes() async throws -> Int64 {
        try await offload { [self] in
            try pool.with { c in
                try c.query("""
                    SELECT pg_total_relation_size('\(t)messages') + pg_total_relation_size('\(t)removed_ids') + pg_total_relation_size('\(t)catalog')
                    """).int(0, 0)
            }
        }
    }
}
