import Foundation

/// Errors of the message layer, on every backend. A broker branches on
/// `kind` (retry on `.unavailable`, stop accepting work on `.storageFull` or
/// `.readOnly`, redeliver on `.lockLost`); `message` says what happened and
/// `underlying` keeps the backend's own error (a `StrataError`, an SQLite
/// result code, a PostgreSQL error) for logs. Docs/message-store.md lists
/// which backend error maps to which kind.
public struct MessageStoreError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The class of failure.
    public enum Kind: String, Sendable {
        /// A message with this id is already stored (or inside its window).
        case duplicateId
        /// Bad argument (empty id or queue, reserved name, bad path).
        case invalidArgument
        /// Stored bytes could not be decoded or failed a check.
        case corruption
        /// The store was closed.
        case closed
        /// No such queue, topic, subscription, message or backup.
        case notFound
        /// The entity already exists.
        case alreadyExists
        /// The lock token is unknown or its lock has expired (the message may
        /// have been delivered to someone else).
        case lockLost
        /// The disk (or the database's size limit) is full: nothing was
        /// stored. Free space; the LSM store then needs a reopen.
        case storageFull
        /// The operating system reported an I/O failure.
        case ioError
        /// The store accepts no writes (after an earlier write failure, or
        /// opened read-only): reopen it once the cause is fixed.
        case readOnly
        /// A transient condition (database busy or locked by another
        /// process, deadlock, connection lost, server down): the operation
        /// did nothing and may be retried.
        case unavailable
    }
    /// The class of failure.
    public let kind: Kind
    /// What happened.
    public let message: String
    /// The backend's error this one was mapped from, if any.
    public let underlying: (any Error)?

    /// Creates an error.
    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
        self.underlying = nil
    }

    /// Creates an error mapped from a backend's `underlying` error.
    public init(_ kind: Kind, _ message: String, underlying: any Error) {
        self.kind = kind
        self.message = message
        self.underlying = underlying
    }

    /// Whether retrying the same call later may succeed without any change
    /// by the caller (only `.unavailable`).
    public var isTransient: Bool { kind == .unavailable }

    public var description: String { "\(kind.rawValue): \(message)" }

    /// Equal when kind and message are (the underlying error is context).
    public static func == (a: MessageStoreError, b: MessageStoreError) -> Bool {
        a.kind == b.kind && a.message == b.message
    }
}
