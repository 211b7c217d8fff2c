import Foundation
import StrataMessageCore
@testable import StrataSQLite
import Testing

/// Schema versions of the SQLite stores (SQLiteSchema.swift): a file from
/// before versioning is upgraded in order on open and keeps its data, a
/// reopen applies nothing twice, and a file from a newer build is refused
/// untouched with an error that names both versions.
@Suite struct SQLiteSchemaTests {
    /// The message store's tables exactly as builds before schema
    /// versioning created them (no strata_schema table, no window index).
    static let unversionedMessageLayout = """
        CREATE TABLE messages(
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
        CREATE INDEX messages_by_queue ON messages(queue, visible_at, seq);
        CREATE TABLE removed_ids(id TEXT PRIMARY KEY, window_end INTEGER NOT NULL);
        CREATE TABLE catalog(k INTEGER PRIMARY KEY CHECK (k = 0), json BLOB NOT NULL);
        """

    /// The event store's tables as builds before schema versioning created them.
    static let unversionedEventLayout = """
        CREATE TABLE events(lsn INTEGER PRIMARY KEY, stream TEXT NOT NULL, record BLOB NOT NULL);
        CREATE INDEX events_by_stream ON events(stream, lsn);
        CREATE TABLE event_keys(key TEXT PRIMARY KEY, lsn INTEGER NOT NULL);
        CREATE TABLE event_snapshots(stream TEXT NOT NULL, upto_lsn INTEGER NOT NULL,
            record BLOB NOT NULL, PRIMARY KEY(stream, upto_lsn));
        CREATE TABLE event_meta(k INTEGER PRIMARY KEY CHECK (k = 0), last_lsn INTEGER NOT NULL);
        INSERT INTO event_meta(k, last_lsn) VALUES (0, 0);
        """

    /// (component, version) rows of the file's strata_schema table, in order.
    static func recorded(_ path: String) throws -> [String] {
        let c = try SQLiteConnection(path: path)
        defer { c.close() }
        var rows: [String] = []
        try c.query("SELECT component, version FROM strata_schema ORDER BY component, version") {
            rows.append("\($0.text(0)) \($0.int(1))")
            return true
        }
        return rows
    }

    static func indexExists(_ name: String, _ path: String) throws -> Bool {
        let c = try SQLiteConnection(path: path)
        defer { c.close() }
        var found = false
        try c.query("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?1", [.text(name)]) { _ in found = true; return false }
        return found
    }

    @Test func anUnversionedMessageStoreIsUpgradedInOrderAndKeepsItsData() async throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/old.sqlite"
        // The old layout with a stored message and a duplicate-window marker, by hand.
        let now = Date().millisecondsSince1970
        let kept = Message(id: "kept", queue: "orders", payload: [7, 8, 9])
        do {
            let c = try SQLiteConnection(path: path)
            try c.exec(Self.unversionedMessageLayout)
            try c.query("""
                INSERT INTO messages(id, queue, visible_at, record, size, timestamp_ms, expires_at, delivery_count)
                VALUES (?1, ?2, ?3, ?4, ?5, ?6, NULL, 0)
                """, [.text(kept.id), .text(kept.queue), .int(kept.timestamp.millisecondsSince1970), .blob(MessageCodec.encode(kept)),
                      .int(3), .int(kept.timestamp.millisecondsSince1970)])
            try c.query("INSERT INTO removed_ids(id, window_end) VALUES ('gone', ?1)", [.int(now + 3_600_000)])
            c.close()
        }
        #expect(try !Self.indexExists("removed_ids_by_window_end", path))

        let store = try SQLiteMessageStore(path: path)
        #expect(try await store.get(id: "kept")?.payload == [7, 8, 9])
        await #expect(throws: MessageStoreError.self) { try await store.add(Message(id: "gone", queue: "orders", payload: [])) }
        let got = try await store.receive(queue: "orders", limit: 10, lockDuration: .seconds(30))
        #expect(got.map(\.message.id) == ["kept"])
        try await store.complete(got.map(\.lockToken))
        try await store.compact()
        try await store.close()

        #expect(try Self.recorded(path) == ["message_store 1", "message_store 2"])
        #expect(try Self.indexExists("removed_ids_by_window_end", path))
        #expect(SQLiteSchema.latest(.messageStore) == 2)
    }

    @Test func reopeningAppliesNothingTwice() async throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/s.sqlite"
        for round in 0..<3 {
            let store = try SQLiteMessageStore(path: path)
            try await store.add(Message(id: "m\(round)", queue: "q", payload: [UInt8(round)]))
            try await store.close()
        }
        #expect(try Self.recorded(path) == ["message_store 1", "message_store 2"])
        let store = try SQLiteMessageStore(path: path)
        #expect(try await store.pending(queue: "q", limit: 10).map(\.id) == ["m0", "m1", "m2"])
        try await store.close()
    }

    @Test func aMessageStoreFromANewerBuildIsRefusedUntouched() async throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/new.sqlite"
        let store = try SQLiteMessageStore(path: path)
        try await store.add(Message(id: "m", queue: "q", payload: [1]))
        try await store.close()
        do {
            let c = try SQLiteConnection(path: path)
            try c.query("INSERT INTO strata_schema(component, version, summary, applied_at_ms) VALUES ('message_store', 9, 'from the future', 0)")
            c.close()
        }
        let error = try #require(throws: MessageStoreError.self) { try SQLiteMessageStore(path: path) }
        #expect(error.kind == .invalidArgument)
        #expect(error.message.contains("newer version"))
        #expect(error.message.contains("schema version 9"))
        #expect(error.message.contains("reads version \(SQLiteSchema.latest(.messageStore))"))
        #expect(try Self.recorded(path) == ["message_store 1", "message_store 2", "message_store 9"])
    }

    @Test func anUnversionedEventStoreIsUpgradedAndANewerOneRefused() async throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/events.sqlite"
        do {
            let c = try SQLiteConnection(path: path)
            try c.exec(Self.unversionedEventLayout)
            c.close()
        }
        let store = try SQLiteEventStore(path: path)
        #expect(try await store.append(Event(stream: "s", payload: [1])) == 1)
        try await store.close()
        #expect(try Self.recorded(path) == ["event_store 1"])

        do {
            let c = try SQLiteConnection(path: path)
            try c.query("INSERT INTO strata_schema(component, version, summary, applied_at_ms) VALUES ('event_store', 2, 'from the future', 0)")
            c.close()
        }
        let error = try #require(throws: MessageStoreError.self) { try SQLiteEventStore(path: path) }
        #expect(error.kind == .invalidArgument)
        #expect(error.message.contains("event store schema version 2"))
    }

    @Test func bothStoresInOneFileKeepTheirOwnVersions() async throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/shared.sqlite"
        let messages = try SQLiteMessageStore(path: path)
        try await messages.close()
        let events = try SQLiteEventStore(path: path)
        try await events.close()
        #expect(try Self.recorded(path) == ["event_store 1", "message_store 1", "message_store 2"])
    }
}
