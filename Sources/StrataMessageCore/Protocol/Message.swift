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

/// Errors of the message layer.
public struct MessageStoreError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The class of failure.
    public enum Kind: String, Sendable {
        /// A message with this id is already stored.
        case duplicateId
        /// Bad argument (empty id or queue, bad path).
        case invalidArgument
        /// Stored bytes could not be decoded.
        case corruption
        /// The store was closed.
        case closed
        /// No such queue, topic, subscription or message.
        case notFound
        /// The entity already exists.
        case alreadyExists
        /// The lock token is unknown or its lock has expired (the message may
        /// have been delivered to someone else).
        case lockLost
        /// An event store already holds this idempotency key (under
        /// `EventStoreOptions.DuplicatePolicy.fail`); `existingLSN` is its LSN.
        case duplicateKey
    }
    /// The class of failure.
    public let kind: Kind
    /// What happened.
    public let message: String
    /// For `.duplicateKey`: the LSN the key was stored under.
    public var existingLSN: Int64?
    /// Creates an error.
    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }
    public var description: String { "\(kind.rawValue): \(message)" }
}
