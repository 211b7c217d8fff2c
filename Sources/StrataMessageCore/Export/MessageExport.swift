import Foundation

/// Moves a store's contents between backends (or into a file for
/// inspection), streamed: a store of any size is written and read with
/// memory bounded by one page of messages, never the whole store.
///
/// Two formats carry the same records (Docs/message-store.md, "Export
/// format", has them byte by byte):
/// - **JSON Lines** (`.jsonl`): one JSON object per line — first the
///   entities (`{"kind":"queue",...}`, `{"kind":"topic",...}` with its
///   subscriptions), then every stored message of every queue, dead-letter
///   and subscription queue, oldest first per queue (`{"kind":"message",...}`,
///   payload in base64, times as seconds since 1970 with fractions), then
///   the duplicate-window markers (`{"kind":"window","id":...,"expiresAt":...}`)
///   where the store reports them.
/// - **CSV** (`.csv`, RFC 4180): a header row, then one row per record with
///   the columns `kind,id,queue,timestamp,scheduledAt,expiresAt,deliveryCount,headers,payload,definition`
///   — a message row fills id … payload (headers as a JSON object, payload
///   base64); a queue or topic row has its name in `queue` and its settings
///   and subscriptions as JSON in `definition`.
///
/// Locks are not exported: imported messages are unlocked, with their
/// delivery counts.
public enum MessageExport {
    /// The file format of an export.
    public enum Format: String, Sendable, CaseIterable {
        /// JSON Lines.
        case jsonl
        /// Comma-separated values with a header row.
        case csv

        /// The format a file name implies: `.csv` is CSV, anything else JSON Lines.
        public static func inferred(fromPath path: String) -> Format {
            path.lowercased().hasSuffix(".csv") ? .csv : .jsonl
        }
    }

    /// How far an export or import is; handed to the progress callback.
    public struct Progress: Sendable, Equatable {
        /// Messages written or read so far.
        public var messages: Int
        /// Messages the export expects to write (from the queues'
        /// statistics; nil for an import).
        public var expectedMessages: Int?
        /// Bytes of the file written or read so far.
        public var bytes: UInt64
        /// Size of the file an import reads (nil for an export).
        public var totalBytes: UInt64?
    }

    /// Called as an export or import goes on (about every page of
    /// messages), from the task running it.
    public typealias ProgressHandler = @Sendable (Progress) -> Void

    /// One line of an export.
    public struct Record: Codable, Sendable, Equatable {
        /// `queue`, `topic`, `message` or `window`; the other fields are those of the kind.
        public var kind: String
        /// Queue or topic name.
        public var name: String?
        /// Settings of a queue.
        public var settings: QueueSettings?
        /// Subscriptions of a topic.
        public var subscriptions: [SubscriptionRecord]?
        /// A message's (or a window marker's) id.
        public var id: String?
        /// A message's queue.
        public var queue: String?
        /// A message's timestamp, seconds since 1970.
        public var timestamp: Double?
        /// A message's payload in base64.
        public var payload: String?
        /// A message's headers (absent when empty).
        public var headers: [String: String]?
        /// A message's delivery count.
        public var deliveryCount: Int?
        /// When a message becomes visible, seconds since 1970.
        public var scheduledAt: Double?
        /// When a message expires (or a window marker ends), seconds since 1970.
        public var expiresAt: Double?
    }

    /// A subscription inside a topic record.
    public struct SubscriptionRecord: Codable, Sendable, Equatable {
        /// Subscription name.
        public var name: String
        /// Subscription settings.
        public var settings: QueueSettings
        /// Subscription filter.
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
        /// Duplicate-window markers recorded.
        public var windows = 0
        /// A summary with these counts.
        public init(entities: Int = 0, messages: Int = 0, duplicates: Int = 0, windows: Int = 0) {
            self.entities = entities
            self.messages = messages
            self.duplicates = duplicates
            self.windows = windows
        }
    }

    /// Messages read from the store, and added to it, per call.
    static let pageSize = 500

    /// Writes `store`'s entities and messages to `path` (which must not
    /// exist) as JSON Lines; returns the number of messages written.
    @discardableResult
    public static func export(_ store: any MessageStore, to path: String) async throws -> Int {
        try await export(store, to: path, format: .jsonl, progress: nil)
    }

    /// Writes `store`'s entities, messages and duplicate-window markers to
    /// `path` (which must not exist; `-` is stdout) in `format`, calling
    /// `progress` as it goes; returns the number of messages written. The
    /// file is written under a temporary name and renamed into place, so a
    /// failed export leaves nothing at `path`.
    @discardableResult
    public static func export(_ store: any MessageStore, to path: String, format: Format,
                              progress: ProgressHandler? = nil) async throws -> Int {
        let out = try ExportSink(path: path)
        do {
            let count = try await write(store, to: out, format: format, progress: progress)
            try out.commit()
            return count
        } catch {
            out.abandon()
            throw error
        }
    }

    private static func write(_ store: any MessageStore, to out: ExportSink, format: Format, progress: ProgressHandler?) async throws -> Int {
        let encoder = ExportRecordEncoder(format: format)
        if let header = encoder.header { try out.write(header) }
        var queueNames: [String] = []
        for q in try await store.queues() {
            try out.write(try encoder.encode(Record(kind: "queue", name: q.name, settings: q.settings)))
            queueNames += [q.name, EntityPath.deadLetterQueue(of: q.name)]
        }
        for t in try await store.topics() {
            let subs = try await store.subscriptions(topic: t)
            try out.write(try encoder.encode(Record(kind: "topic", name: t,
                                                    subscriptions: subs.map { SubscriptionRecord(name: $0.name, settings: $0.settings, filter: $0.filter) })))
            for s in subs { queueNames += [s.queue, EntityPath.deadLetterQueue(of: s.queue)] }
        }
        var expected = 0
        if progress != nil {
            for q in queueNames {
                let s = try await store.statistics(queue: q)
                expected += s.active + s.scheduled + s.locked
            }
        }
        var count = 0
        for q in queueNames {
            try await forEachPage(of: q, in: store) { page in
                for m in page {
                    try out.write(try encoder.encode(record(of: m)))
                }
                count += page.count
                progress?(Progress(messages: count, expectedMessages: max(expected, count), bytes: out.bytesWritten, totalBytes: nil))
            }
        }
        if let windows = store as? any DuplicateWindowExport {
            for marker in try await windows.duplicateWindowMarkers() {
                try out.write(try encoder.encode(Record(kind: "window", id: marker.id, expiresAt: marker.until.timeIntervalSince1970)))
            }
        }
        return count
    }

    /// Calls `body` with the stored messages of `queue`, oldest first, a
    /// page of `pageSize` at a time (`pending(queue:after:limit:)`, each page
    /// after the last id of the one before): memory stays at one page
    /// whatever the queue's length.
    static func forEachPage(of queue: String, in store: any MessageStore, pageSize: Int = pageSize,
                            _ body: ([Message]) async throws -> Void) async throws {
        var after: String?
        while true {
            try Task.checkCancellation()
            let page = try await store.pending(queue: queue, after: after, limit: pageSize)
            if page.isEmpty { return }
            try await body(page)
            after = page.last!.id
        }
    }

    static func record(of m: Message) -> Record {
        Record(kind: "message", id: m.id, queue: m.queue, timestamp: m.timestamp.timeIntervalSince1970,
               payload: Data(m.payload).base64EncodedString(), headers: m.headers.isEmpty ? nil : m.headers,
               deliveryCount: m.deliveryCount, scheduledAt: m.scheduledAt?.timeIntervalSince1970,
               expiresAt: m.expiresAt?.timeIntervalSince1970)
    }
}
