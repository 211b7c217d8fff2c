import Foundation
import Strata
import Synchronization

/// Options of the LSM message store.
public struct MessageStoreOptions: Sendable {
    /// Commit mode of every write (adds and acks).
    public var commitMode: CommitMode = .syncDurable
    /// Options of the underlying engine.
    public var engine: Options = Options()
    /// Default options.
    public init() {}
}

/// The message store on the Strata engine. Messages live in column family
/// `messages` under order-preserving `queue | time | sequence` keys, so a
/// queue is one contiguous key range read oldest first with a bounded
/// iterator; `ids` maps each id to its message key. An add or an ack
/// changes both families in one atomic batch. Writes go through the async
/// write path (they suspend, never block a pool thread); concurrent
/// producers share group commits.
public final class LSMMessageStore: MessageStore {
    private let path: String
    private let options: MessageStoreOptions
    private let state: Mutex<Opened?>
    /// Ids whose add is in flight: reserved before the existence check and
    /// released after the write, so two concurrent adds of one id cannot
    /// both pass the check.
    private let inFlight = Mutex<Set<String>>([])
    /// Orders messages that share an enqueue millisecond.
    private let sequence = Atomic<UInt64>(0)

    private struct Opened: @unchecked Sendable {
        let db: Database
        let messages: ColumnFamily
        let ids: ColumnFamily
    }

    private init(path: String, options: MessageStoreOptions, opened: Opened) {
        self.path = path
        self.options = options
        self.state = Mutex(opened)
        // Above every sequence used before: the engine's sequence only grows.
        sequence.store(UInt64(opened.db.property("strata.last-sequence") ?? "0") ?? 0, ordering: .relaxed)
    }

    /// Opens (creating if needed) a store at `path`.
    public static func open(at path: String, options: MessageStoreOptions = MessageStoreOptions()) async throws -> LSMMessageStore {
        LSMMessageStore(path: path, options: options, opened: try openEngine(path, options))
    }

    private static func openEngine(_ path: String, _ options: MessageStoreOptions) throws -> Opened {
        let db = try Database.open(at: path, options: options.engine)
        let messages = try db.columnFamily("messages") ?? db.createColumnFamily("messages")
        let ids = try db.columnFamily("ids") ?? db.createColumnFamily("ids")
        return Opened(db: db, messages: messages, ids: ids)
    }

    private func opened() throws -> Opened {
        guard let o = state.withLock({ $0 }) else { throw MessageStoreError(.closed, "store at \(path) is closed") }
        return o
    }

    public func initialize() async throws { _ = try opened() }

    public func add(_ message: Message) async throws {
        try await add(contentsOf: [message])
    }

    public func add(contentsOf messages: [Message]) async throws {
        let o = try opened()
        for m in messages { try InMemoryMessageStore.validate(m) }
        let ids = messages.map(\.id)
        try inFlight.withLock { reserved in
            var seen = Set<String>()
            for id in ids where reserved.contains(id) || !seen.insert(id).inserted {
                throw MessageStoreError(.duplicateId, "a message with id \(id) is already stored")
            }
            reserved.formUnion(ids)
        }
        defer { inFlight.withLock { $0.subtract(ids) } }
        var batch = WriteBatch()
        for m in messages {
            let id = Array(m.id.utf8)
            if try o.db.get(id, in: o.ids) != nil {
                throw MessageStoreError(.duplicateId, "a message with id \(m.id) is already stored")
            }
            let key = MessageCodec.key(queue: m.queue, timestamp: m.timestamp,
                                       sequence: sequence.add(1, ordering: .relaxed).newValue)
            batch.put(key, MessageCodec.encode(m), in: o.messages)
            batch.put(id, key, in: o.ids)
        }
        try await o.db.write(batch, options: WriteOptions(commitMode: options.commitMode))
    }

    public func get(id: String) async throws -> Message? {
        let o = try opened()
        guard let key = try o.db.get(Array(id.utf8), in: o.ids),
              let value = try o.db.get(key, in: o.messages) else { return nil }
        return try MessageCodec.decode(value)
    }

    public func remove(id: String) async throws {
        let o = try opened()
        let idKey = Array(id.utf8)
        guard let key = try o.db.get(idKey, in: o.ids) else { return }
        var batch = WriteBatch()
        batch.delete(key, in: o.messages)
        batch.delete(idKey, in: o.ids)
        try await o.db.write(batch, options: WriteOptions(commitMode: options.commitMode))
    }

    public func pending(queue: String, limit: Int) async throws -> [Message] {
        let o = try opened()
        let it = try o.db.makeIterator(in: o.messages, options: ReadOptions(
            lowerBound: MessageCodec.queuePrefix(queue), upperBound: MessageCodec.queueEnd(queue)))
        var out: [Message] = []
        it.seekToFirst()
        while it.isValid && out.count < limit {
            out.append(try MessageCodec.decode(it.value))
            it.next()
        }
        try it.checkStatus()
        return out
    }

    public func backup(to path: String) async throws {
        try opened().db.createCheckpoint(at: path)
    }

    public func restore(from backupPath: String) async throws {
        // Work on a copy (opening a database writes to it), check that it
        // opens as a store, then swap it in for the live directory.
        let fm = FileManager.default
        let staged = path + ".strata-restore"
        try? fm.removeItem(atPath: staged)
        do {
            try fm.copyItem(atPath: backupPath, toPath: staged)
        } catch {
            throw MessageStoreError(.invalidArgument, "cannot read backup at \(backupPath): \(error)")
        }
        try? fm.removeItem(atPath: staged + "/LOCK")
        let probe = try Self.openEngine(staged, options)
        try probe.db.close()
        try state.withLock { s in
            guard let o = s else { throw MessageStoreError(.closed, "store at \(path) is closed") }
            try o.db.close()
            s = nil
            let aside = path + ".strata-replaced"
            try? fm.removeItem(atPath: aside)
            try fm.moveItem(atPath: path, toPath: aside)
            try fm.moveItem(atPath: staged, toPath: path)
            s = try Self.openEngine(path, options)
            try? fm.removeItem(atPath: aside)
        }
    }

    public func compact() async throws {
        let o = try opened()
        try o.db.compactRange(nil, nil, in: o.messages)
        try o.db.compactRange(nil, nil, in: o.ids)
    }

    public func close() async throws {
        let o = state.withLock { s -> Opened? in
            defer { s = nil }
            return s
        }
        try o?.db.close()
    }
}
