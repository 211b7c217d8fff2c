import Foundation

/// Per-queue (and per-subscription) delivery settings. Every field has the
/// broker default, so `QueueSettings()` is a usable queue.
public struct QueueSettings: Sendable, Equatable, Codable {
    /// How long a received message stays locked to its receiver before it
    /// becomes visible again (when `receive` is not given another duration).
    public var lockDuration: Duration
    /// A message delivered this many times without being completed moves to
    /// the dead-letter queue instead of being delivered again.
    public var maxDeliveryCount: Int
    /// Time to live of messages that carry no `expiresAt`; nil = forever.
    public var defaultTimeToLive: Duration?
    /// Expired messages go to the dead-letter queue (true) or are dropped.
    public var deadLetterOnExpiration: Bool
    /// A message id seen within this window (while stored, or after it was
    /// acknowledged) is rejected as a duplicate; nil = only while stored.
    public var duplicateDetectionWindow: Duration?

    /// Settings with the broker defaults: 30 s locks, 10 deliveries, no TTL,
    /// expired messages dropped, no duplicate window beyond storage.
    public init(lockDuration: Duration = .seconds(30), maxDeliveryCount: Int = 10,
                defaultTimeToLive: Duration? = nil, deadLetterOnExpiration: Bool = false,
                duplicateDetectionWindow: Duration? = nil) {
        self.lockDuration = lockDuration
        self.maxDeliveryCount = maxDeliveryCount
        self.defaultTimeToLive = defaultTimeToLive
        self.deadLetterOnExpiration = deadLetterOnExpiration
        self.duplicateDetectionWindow = duplicateDetectionWindow
    }

    private enum CodingKeys: String, CodingKey {
        case lockDurationMs, maxDeliveryCount, defaultTimeToLiveMs, deadLetterOnExpiration, duplicateDetectionWindowMs
    }

    /// Durations are coded as whole milliseconds (readable in exports and
    /// entity records).
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(lockDuration.milliseconds, forKey: .lockDurationMs)
        try c.encode(maxDeliveryCount, forKey: .maxDeliveryCount)
        try c.encodeIfPresent(defaultTimeToLive?.milliseconds, forKey: .defaultTimeToLiveMs)
        try c.encode(deadLetterOnExpiration, forKey: .deadLetterOnExpiration)
        try c.encodeIfPresent(duplicateDetectionWindow?.milliseconds, forKey: .duplicateDetectionWindowMs)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(lockDuration: .milliseconds(try c.decode(Int64.self, forKey: .lockDurationMs)),
                  maxDeliveryCount: try c.decode(Int.self, forKey: .maxDeliveryCount),
                  defaultTimeToLive: try c.decodeIfPresent(Int64.self, forKey: .defaultTimeToLiveMs).map { .milliseconds($0) },
                  deadLetterOnExpiration: try c.decode(Bool.self, forKey: .deadLetterOnExpiration),
                  duplicateDetectionWindow: try c.decodeIfPresent(Int64.self, forKey: .duplicateDetectionWindowMs).map { .milliseconds($0) })
    }

    /// The longest duration a setting (or a receive's lock) may have.
    package static let longest: Duration = .seconds(3650 * 86400)

    package func validate() throws {
        for (name, d) in [("lockDuration", lockDuration), ("defaultTimeToLive", defaultTimeToLive), ("duplicateDetectionWindow", duplicateDetectionWindow)] {
            if let d, d > Self.longest { throw MessageStoreError(.invalidArgument, "\(name) longer than ten years") }
        }
        if lockDuration <= .zero { throw MessageStoreError(.invalidArgument, "lockDuration must be positive") }
        if maxDeliveryCount < 1 { throw MessageStoreError(.invalidArgument, "maxDeliveryCount must be at least 1") }
        if let t = defaultTimeToLive, t <= .zero { throw MessageStoreError(.invalidArgument, "defaultTimeToLive must be positive") }
        if let w = duplicateDetectionWindow, w < .zero { throw MessageStoreError(.invalidArgument, "duplicateDetectionWindow must not be negative") }
    }
}

/// Which published messages a subscription takes: every header listed here
/// must be present on the message with exactly this value. An empty filter
/// takes every message.
public struct SubscriptionFilter: Sendable, Equatable, Codable {
    /// Header name → required value.
    public var headers: [String: String]
    /// A filter on header values.
    public init(headers: [String: String] = [:]) { self.headers = headers }

    /// Whether `message` passes the filter.
    public func matches(_ message: Message) -> Bool {
        headers.allSatisfy { message.headers[$0.key] == $0.value }
    }
}

/// A queue and its settings, as `queues()` lists them.
public struct QueueDescription: Sendable, Equatable {
    /// The queue's name.
    public var name: String
    /// Its delivery settings.
    public var settings: QueueSettings
    /// Creates a description.
    public init(name: String, settings: QueueSettings) {
        self.name = name
        self.settings = settings
    }
}

/// A subscription of a topic, as `subscriptions(topic:)` lists it.
public struct SubscriptionDescription: Sendable, Equatable {
    /// The subscription's name within its topic.
    public var name: String
    /// The topic it belongs to.
    public var topic: String
    /// Its delivery settings.
    public var settings: QueueSettings
    /// Which published messages it takes.
    public var filter: SubscriptionFilter
    /// The queue its copies land in (`EntityPath.subscriptionQueue`); receive,
    /// complete, pending and statistics work on this name.
    public var queue: String { EntityPath.subscriptionQueue(topic: topic, subscription: name) }
    /// Creates a description.
    public init(name: String, topic: String, settings: QueueSettings, filter: SubscriptionFilter) {
        self.name = name
        self.topic = topic
        self.settings = settings
        self.filter = filter
    }
}

/// Counts of one queue at one moment.
public struct QueueStatistics: Sendable, Equatable {
    /// Messages a `receive` could deliver now.
    public var active: Int = 0
    /// Messages not yet visible (`scheduledAt` in the future).
    public var scheduled: Int = 0
    /// Messages held by a live lock.
    public var locked: Int = 0
    /// Messages in the queue's dead-letter queue.
    public var deadLettered: Int = 0
    /// Payload bytes of the queue's stored messages.
    public var bytes: Int = 0
    /// Age of the oldest stored message, nil when the queue is empty.
    public var oldestAge: Duration?
    /// An all-zero statistic.
    public init() {}
}

/// Names of derived entities. A queue's dead letters live in the queue
/// `<queue>/$deadletterqueue`; a subscription's copies in
/// `<topic>/subscriptions/<name>` — both ordinary queues for receive,
/// complete, pending, purge and statistics.
public enum EntityPath {
    /// The dead-letter queue of `queue`.
    public static func deadLetterQueue(of queue: String) -> String { queue + "/$deadletterqueue" }
    /// The queue of subscription `subscription` of `topic`.
    public static func subscriptionQueue(topic: String, subscription: String) -> String {
        topic + "/subscriptions/" + subscription
    }
    /// Whether `queue` is a dead-letter queue.
    public static func isDeadLetterQueue(_ queue: String) -> Bool { queue.hasSuffix("/$deadletterqueue") }
}

/// The header a dead-lettered message carries its reason in.
public let deadLetterReasonHeader = "DeadLetterReason"
