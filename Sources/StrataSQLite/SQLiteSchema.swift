import Foundation
import StrataMessageCore

/// One step of a store's SQLite schema: the statements that take the
/// tables from `version - 1` to `version`.
struct SQLiteMigration: Sendable {
    /// The version the store is at once this step has run (1, 2, …, no gaps).
    let version: Int
    /// What the step changes, recorded beside its version.
    let summary: String
    /// The statements (several allowed), run inside the migrating transaction.
    let sql: String
}

/// The versioned schemas of the SQLite stores. Each store's file keeps a
/// `strata_schema` table with one row per applied step (component, version,
/// summary, time); opening a store applies the steps it has not seen, in
/// order, in one transaction (all or none), and refuses a file whose
/// schema is newer than this build knows, before touching anything.
///
/// Version 1 of each component is the layout every store had before
/// versioning (all `IF NOT EXISTS`), so an unversioned file from an older
/// build counts as version 0, gets version 1 recorded over its existing
/// tables, then the later steps. A new schema change is a new step at the
/// end of its list — never an edit of a step that shipped.
enum SQLiteSchema {
    /// Which store a schema belongs to; both may share one file.
    enum Component: String, Sendable {
        case messageStore = "message_store"
        case eventStore = "event_store"

        /// The component's steps, oldest first.
        var migrations: [SQLiteMigration] {
            switch self {
            case .messageStore: return SQLiteSchema.messageStore
            case .eventStore: return SQLiteSchema.eventStore
            }
        }

        /// How errors name it.
        var title: String { self == .messageStore ? "message store" : "event store" }
    }

    /// The message store (`SQLiteMessageStore`).
    static let messageStore: [SQLiteMigration] = [
        SQLiteMigration(version: 1, summary: "messages, removed_ids and catalog tables", sql: """
            CREATE TABLE IF NOT EXISTS messages(
                seq INTEGER PRIMARY KEY AUTOINCREMENT,
                id TEXT NOT NULL UNIQUE,
                queue TEXT NOT NULL,
                visible_at INTEGER NOT NULL,
                record BLOB NOT NULL,
                size INTEGER NOT NULL,
                timestamp_ms INTEGER NOT NULL,
                expires_at INTEGER,
                delivery_count INTEGER NOT NULL,
                lock_token BLOB,
                locked_until INTEGER NOT NULL DEFAULT 0);
            CREATE INDEX IF NOT EXISTS messages_by_queue ON messages(queue, visible_at, seq);
            CREATE TABLE IF NOT EXISTS removed_ids(id TEXT PRIMARY KEY, window_end INTEGER NOT NULL);
            CREATE TABLE IF NOT EXISTS catalog(k INTEGER PRIMARY KEY CHECK (k = 0), json BLOB NOT NULL);
            """),
        // compact() deletes the markers whose window has ended; without an
        // index that is a scan of every marker.
        SQLiteMigration(version: 2, summary: "index removed_ids by window_end", sql: """
            CREATE INDEX IF NOT EXISTS removed_ids_by_window_end ON removed_ids(window_end);
            """),
    ]

    /// The event store (`SQLiteEventStore`).
    static let eventStore: [SQLiteMigration] = [
        SQLiteMigration(version: 1, summary: "events, event_keys, event_snapshots and event_meta tables", sql: """
            CREATE TABLE IF NOT EXISTS events(lsn INTEGER PRIMARY KEY, stream TEXT NOT NULL, record BLOB NOT NULL);
            CREATE INDEX IF NOT EXISTS events_by_stream ON events(stream, lsn);
            CREATE TABLE IF NOT EXISTS event_keys(key TEXT PRIMARY KEY, lsn INTEGER NOT NULL);
            CREATE TABLE IF NOT EXISTS event_snapshots(stream TEXT NOT NULL, upto_lsn INTEGER NOT NULL,
                record BLOB NOT NULL, PRIMARY KEY(stream, upto_lsn));
            CREATE TABLE IF NOT EXISTS event_meta(k INTEGER PRIMARY KEY CHECK (k = 0), last_lsn INTEGER NOT NULL);
            INSERT OR IGNORE INTO event_meta(k, last_lsn) VALUES (0, 0);
            """),
    ]

    /// The version this build writes for `component`.
    static func latest(_ component: Component) -> Int { component.migrations.last?.version ?? 0 }

    /// Brings `component`'s tables in `c` up to `latest(component)`. A file
    /// already at a newer version is `.invalidArgument` naming both
    /// versions, and is left as it was.
    static func migrate(_ c: SQLiteConnection, _ component: Component) throws {
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        // BEGIN IMMEDIATE: two processes opening the same old file migrate
        // it once; the second sees the first's rows.
        try c.transaction {
            try c.exec("""
                CREATE TABLE IF NOT EXISTS strata_schema(
                    component TEXT NOT NULL,
                    version INTEGER NOT NULL,
                    summary TEXT NOT NULL,
                    applied_at_ms INTEGER NOT NULL,
                    PRIMARY KEY(component, version))
                """)
            let current = try version(c, component)
            let latest = latest(component)
            if current > latest {
                throw MessageStoreError(.invalidArgument, """
                    \(c.path): written by a newer version of Strata (\(component.title) schema version \(current); \
                    this build reads version \(latest) and older)
                    """)
            }
            for step in component.migrations where step.version > current {
                try c.exec(step.sql)
                try c.query("INSERT INTO strata_schema(component, version, summary, applied_at_ms) VALUES (?1, ?2, ?3, ?4)",
                            [.text(component.rawValue), .int(Int64(step.version)), .text(step.summary), .int(now)])
            }
        }
    }

    /// The highest version recorded for `component` in `c` (0: none, an
    /// unversioned or new file).
    static func version(_ c: SQLiteConnection, _ component: Component) throws -> Int {
        var v = 0
        try c.query("SELECT coalesce(max(version), 0) FROM strata_schema WHERE component = ?1", [.text(component.rawValue)]) {
            v = Int($0.int(0))
            return false
        }
        return v
    }
}
