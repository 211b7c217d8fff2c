import Foundation

/// Moves a store's contents between backends (or into a file for
/// inspection): JSON Lines, one record per line — first the entities
/// (`{"kind":"queue",...}`, `{"kind":"topic",...}`), then every stored
/// message of every queue, dead-letter and subscription queue, oldest first
/// per queue (`{"kind":"message",...}`, payload in base64, times as seconds
/// since 1970 with fractions). Locks are not exported: imported messages are
/// unlocked, with their delivery counts.
public enum MessageExport {
    /// One line of an export.
    public struct Record: Codable, Sendable, Equatable {
        /// `queue`, `topic` or `message`; the other fields are those of the kind.
        public var kind: String
        /// Queue or topic name.
        public var name: String?
        // Queue settings; a topic's subscriptions; a message's fields.
        public var settings: QueueSettings?
        public var subscriptions: [SubscriptionRecord]?
        public var id: String?
        public var queue: String?
        public var timestamp: Double?
        public var payload: String?
        public var headers: [String: String]?
        public var deliveryCount: Int?
        public var scheduledAt: Double?
        public var expiresAt: Double?
    }

    /// A subscription inside a topic record.
    public struct SubscriptionRecord: Codable, Sendable, Equatable {
        /// Subscription name, settings and filter.
        public var name: String
        public var settings: QueueSettings
        public var filter: SubscriptionFilter
    }

    /// Counts of an import.
    public struct ImportSummary: Sendable, Equatable {
        /// Queues and topics (with subscriptions) created or updated.
        public var entities = 0
        /// Messages added.
        public var messages = 0
        /// Messages skipped because their id was already stored (merge mode).
        public var duplicates = 0
        /// A summary with these counts.
        public init(entities: Int = 0, messages: Int = 0, duplicates: Int = 0) {
            self.entities = entities
            self.messages = messages
            self.duplicates = duplicates
        }
    }

    /// Writes `store`'s entities and messages to `path` (which must not
    /// exist); returns the number of messages written.
    @discardableResult
    public static func export(_ store: any MessageStore, to path: String) async throws -> Int {
        guard !FileManager.default.fileExists(atPath: path) else {
            throw MessageStoreError(.invalidArgument, "export target \(path) already exists")
        }
        guard FileManager.default.createFile(atPath: path, contents: nil), let out = FileHandle(forWritingAtPath: path) else {
            throw MessageStoreError(.invalidArgument, "cannot create \(path)")
        }
        defer { try? out.close() }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        func write(_ r: Record) throws { try out.write(contentsOf: try encoder.encode(r) + Data("\n".utf8)) }
        var queueNames: [String] = []
        for q in try await store.queues() {
            try write(Record(kind: "queue", name: q.name, settings: q.settings))
            queueNames += [q.name, EntityPath.deadLetterQueue(of: q.name)]
        }
        for t in try await store.topics() {
            let subs = try await store.subscriptions(topic: t)
            try write(Record(kind: "topic", name: t, subscriptions: subs.map { SubscriptionRecord(name: $0.name, settings: $0.settings, filter: $0.filter) }))
            for s in subs { queueNames += [s.queue, EntityPath.deadLetterQueue(of: s.queue)] }
        }
        var count = 0
        for q in queueNames {
            for m in try await store.pending(queue: q, limit: .max) {
                try write(Record(kind: "message", id: m.id, queue: m.queue, timestamp: m.timestamp.timeIntervalSince1970,
                                 payload: Data(m.payload).base64EncodedString(), headers: m.headers.isEmpty ? nil : m.headers,
                                 deliveryCount: m.deliveryCount, scheduledAt: m.scheduledAt?.timeIntervalSince1970,
                                 expiresAt: m.expiresAt?.timeIntervalSince1970))
                count += 1
            }
        }
        return count
    }

    /// Reads an export into `store`. `replace` purges every queue named in
    /// the file first; otherwise messages whose id is already stored are
    /// skipped (merge). A malformed line is `.corruption` naming the line;
    /// messages are added in batches of 500.
    public static func importFile(_ path: String, into store: any MessageStore, replace: Bool) async throws -> ImportSummary {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw MessageStoreError(.invalidArgument, "cannot read \(path)")
        }
        let decoder = JSONDecoder()
        var records: [Record] = []
        var lineNumber = 0
        for line in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            lineNumber += 1
            if line.allSatisfy({ $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\r") }) { continue }
            do { records.append(try decoder.decode(Record.self, from: Data(line))) } catch {
                throw MessageStoreError(.corruption, "\(path) line \(lineNumber): not an export record (\(error))")
            }
        }
        var summary = ImportSummary()
        var messages: [Message] = []
        for (i, r) in records.enumerated() {
            func need<T>(_ v: T?, _ field: String) throws -> T {
                guard let v else { throw MessageStoreError(.corruption, "\(path) record \(i + 1): \(r.kind) without \(field)") }
                return v
            }
            switch r.kind {
            case "queue":
                try await store.createQueue(try need(r.name, "name"), settings: try need(r.settings, "settings"))
                summary.entities += 1
            case "topic":
                let t = try need(r.name, "name")
                try await store.createTopic(t)
                for s in r.subscriptions ?? [] {
                    try await store.createSubscription(s.name, topic: t, settings: s.settings, filter: s.filter)
                }
                summary.entities += 1
            case "message":
                guard let payload = Data(base64Encoded: try need(r.payload, "payload")) else {
                    throw MessageStoreError(.corruption, "\(path) record \(i + 1): payload is not base64")
                }
                messages.append(Message(id: try need(r.id, "id"), queue: try need(r.queue, "queue"), payload: [UInt8](payload),
                                        timestamp: Date(timeIntervalSince1970: try need(r.timestamp, "timestamp")),
                                        headers: r.headers ?? [:], deliveryCount: r.deliveryCount ?? 0,
                                        scheduledAt: r.scheduledAt.map(Date.init(timeIntervalSince1970:)),
                                        expiresAt: r.expiresAt.map(Date.init(timeIntervalSince1970:))))
            default:
                throw MessageStoreError(.corruption, "\(path) record \(i + 1): unknown kind '\(r.kind)'")
            }
        }
        if replace {
            for q in Set(messages.map(\.queue)) { try await store.purge(queue: q) }
        }
        var i = 0
        while i < messages.count {
            let chunk = Array(messages[i..<min(i + 500, messages.count)])
            do {
                try await store.add(contentsOf: chunk)
                summary.messages += chunk.count
            } catch let e as MessageStoreError where e.kind == .duplicateId {
                for m in chunk {
                    do {
                        try await store.add(m)
                        summary.messages += 1
                    } catch let e as MessageStoreError where e.kind == .duplicateId {
                        summary.duplicates += 1
                    }
                }
            }
            i += 500
        }
        return summary
    }
}
