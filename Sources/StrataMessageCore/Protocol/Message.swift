import Foundation

/// A message in a queue. `id` is unique within a store.
public struct Message: Sendable, Equatable {
    /// Unique id (duplicates are rejected by `add`).
    public var id: String
    /// The queue the message belongs to.
    public var queue: String
    /// When the message was enqueued; orders a queue (then insertion order).
    public var timestamp: Date
    /// The message body.
    public var payload: [UInt8]
    /// Application headers.
    public var headers: [String: String]
    /// How many times the message has been delivered.
    public var deliveryCount: Int
    /// Not deliverable before this time, if set.
    public var scheduledAt: Date?
    /// Dropped after this time, if set.
    public var expiresAt: Date?

    /// Creates a message; every field but id, queue and payload has a default.
    public init(id: String, queue: String, payload: [UInt8], timestamp: Date = Date(), headers: [String: String] = [:],
                deliveryCount: Int = 0, scheduledAt: Date? = nil, expiresAt: Date? = nil) {
        self.id = id
        self.queue = queue
        self.timestamp = timestamp
        self.payload = payload
        self.headers = headers
        self.deliveryCount = deliveryCount
        self.scheduledAt = scheduledAt
        self.expiresAt = expiresAt
    }
}
