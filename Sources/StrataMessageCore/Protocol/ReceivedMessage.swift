import Foundation

/// Proof that a receiver holds a message's lock: complete, abandon,
/// dead-letter and renew take it. It names the message, so it stays valid
/// across a restart of the store until the lock expires.
public struct LockToken: Sendable, Hashable, CustomStringConvertible {
    /// Random per delivery; a later delivery of the same message gets another.
    public let id: UUID
    /// The locked message's id.
    public let messageID: String
    /// The queue it was received from.
    public let queue: String
    /// Where the LSM store keeps the message (empty when unknown); spares a
    /// lookup in the id index.
    package let storageKey: [UInt8]

    /// A token (backends create them; tests may too).
    public init(id: UUID, messageID: String, queue: String) {
        self.init(id: id, messageID: messageID, queue: queue, storageKey: [])
    }

    package init(id: UUID, messageID: String, queue: String, storageKey: [UInt8]) {
        self.id = id
        self.messageID = messageID
        self.queue = queue
        self.storageKey = storageKey
    }

    public static func == (a: LockToken, b: LockToken) -> Bool {
        a.id == b.id && a.messageID == b.messageID && a.queue == b.queue
    }

    public func hash(into h: inout Hasher) {
        h.combine(id)
        h.combine(messageID)
        h.combine(queue)
    }

    public var description: String { "lock \(id) on \(messageID) in \(queue)" }
}

/// A message delivered by `receive` under a peek-lock.
public struct ReceivedMessage: Sendable, Equatable {
    /// The message; `deliveryCount` counts this delivery.
    public var message: Message
    /// Pass to complete, abandon, deadLetter or renewLock.
    public var lockToken: LockToken
    /// When the lock ends unless renewed.
    public var lockedUntil: Date

    /// Creates a received message.
    public init(message: Message, lockToken: LockToken, lockedUntil: Date) {
        self.message = message
        self.lockToken = lockToken
        self.lockedUntil = lockedUntil
    }
}

/// Where a store reads the time. Tests pass a manual clock to move past lock
/// expiries, schedules and windows without sleeping.
public struct MessageClock: Sendable {
    /// The current time.
    public let now: @Sendable () -> Date
    /// A clock reading `now`.
    public init(_ now: @escaping @Sendable () -> Date) { self.now = now }
    /// The system's wall clock.
    public static let system = MessageClock { Date() }
}

extension Date {
    /// Milliseconds since 1970, rounded down (the precision of keys and schedules).
    /// Saturating: dates beyond Int64 milliseconds clamp, NaN is 0 (stores
    /// refuse such dates in `add`; decoded records must never trap).
    package var millisecondsSince1970: Int64 {
        let ms = (timeIntervalSince1970 * 1000).rounded(.down)
        if ms.isNaN { return 0 }
        if ms >= 9.2e18 { return .max }
        if ms <= -9.2e18 { return .min }
        return Int64(ms)
    }

    package func adding(_ d: Duration) -> Date {
        let (s, atto) = d.components
        return addingTimeInterval(Double(s) + Double(atto) / 1e18)
    }
}

extension Duration {
    /// Saturating (durations are validated far below the limits).
    package var milliseconds: Int64 {
        let (s, atto) = components
        let (ms, overflow) = s.multipliedReportingOverflow(by: 1000)
        if overflow { return s < 0 ? .min : .max }
        let (sum, o2) = ms.addingReportingOverflow(atto / 1_000_000_000_000_000)
        return o2 ? (ms < 0 ? .min : .max) : sum
    }
}
