import Foundation
import Synchronization

/// The reference implementation: everything in memory, same semantics as
/// the persistent backends (for tests and for brokers that need no
/// durability). `backup(to:)` writes a file that `restore(from:)` reads.
public final class InMemoryMessageStore: MessageStore {
    private struct State {
        var byId: [String: Message] = [:]
        var order: [String: UInt64] = [:]  // id -> insertion sequence
        var next: UInt64 = 0
        var closed = false
    }
    private let state = Mutex(State())

    /// An empty store.
    public init() {}

    public func initialize() async throws {}

    public func add(_ message: Message) async throws {
        try await add(contentsOf: [message])
    }

    public func add(contentsOf messages: [Message]) async throws {
        try state.withLock { s in
            if s.closed { throw MessageStoreError(.closed, "store is closed") }
            var seen = Set<String>()
            for m in messages {
                try Self.validate(m)
                if s.byId[m.id] != nil || !seen.insert(m.id).inserted {
                    throw MessageStoreError(.duplicateId, "a message with id \(m.id) is already stored")
                }
            }
            for m in messages {
                s.byId[m.id] = m
                s.order[m.id] = s.next
                s.next += 1
            }
        }
    }

    static func validate(_ m: Message) throws {
        if m.id.isEmpty || m.queue.isEmpty { throw MessageStoreError(.invalidArgument, "message id and queue must not be empty") }
        if m.queue.utf8.count > 0xffff { throw MessageStoreError(.invalidArgument, "queue name longer than 65535 bytes") }
    }

    public func get(id: String) async throws -> Message? {
        try state.withLock { s in
            if s.closed { throw MessageStoreError(.closed, "store is closed") }
            return s.byId[id]
        }
    }

    public func remove(id: String) async throws {
        try state.withLock { s in
            if s.closed { throw MessageStoreError(.closed, "store is closed") }
            s.byId[id] = nil
            s.order[id] = nil
        }
    }

    public func pending(queue: String, limit: Int) async throws -> [Message] {
        try state.withLock { s in
            if s.closed { throw MessageStoreError(.closed, "store is closed") }
            // Same order as the LSM store: enqueue time (ms), then insertion.
            let ms = { (m: Message) in Int64((m.timestamp.timeIntervalSince1970 * 1000).rounded(.down)) }
            return s.byId.values.filter { $0.queue == queue }
                .sorted { (ms($0), s.order[$0.id]!) < (ms($1), s.order[$1.id]!) }
                .prefix(max(0, limit)).map { $0 }
        }
    }

    public func backup(to path: String) async throws {
        let records = state.withLock { s in
            s.byId.values.sorted { s.order[$0.id]! < s.order[$1.id]! }.map(MessageCodec.encode)
        }
        var out: [UInt8] = []
        for r in records {
            let n = UInt32(r.count)
            out += [UInt8(n & 0xff), UInt8((n >> 8) & 0xff), UInt8((n >> 16) & 0xff), UInt8(n >> 24)] + r
        }
        guard !FileManager.default.fileExists(atPath: path) else {
            throw MessageStoreError(.invalidArgument, "backup target \(path) already exists")
        }
        try Data(out).write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    public func restore(from path: String) async throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw MessageStoreError(.invalidArgument, "no backup at \(path)")
        }
        let bytes = [UInt8](data)
        var messages: [Message] = []
        var i = 0
        while i < bytes.count {
            guard bytes.count - i >= 4 else { throw MessageStoreError(.corruption, "\(path): truncated at \(i)") }
            let n = Int(bytes[i]) | Int(bytes[i + 1]) << 8 | Int(bytes[i + 2]) << 16 | Int(bytes[i + 3]) << 24
            i += 4
            guard n <= bytes.count - i else { throw MessageStoreError(.corruption, "\(path): truncated at \(i)") }
            messages.append(try MessageCodec.decode(Array(bytes[i..<i + n])))
            i += n
        }
        state.withLock { s in
            s.byId = [:]
            s.order = [:]
            s.next = 0
            for m in messages {
                s.byId[m.id] = m
                s.order[m.id] = s.next
                s.next += 1
            }
        }
    }

    public func compact() async throws {}

    public func close() async throws {
        state.withLock { $0.closed = true }
    }
}
