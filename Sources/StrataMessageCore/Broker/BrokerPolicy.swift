import Foundation

/// The broker's decisions, written once: how long a lock lasts, when a
/// message expires, what a receive does with a message it meets (deliver,
/// drop, dead-letter, and why), what an abandon does, how long an id stays
/// a duplicate after its ack. A backend that calls these only stores. The
/// JSON backend does; the in-memory store keeps its own readable copy as
/// the reference the differential tests compare every backend with.
package enum BrokerPolicy {
    /// The `DeadLetterReason` of a message delivered `maxDeliveryCount` times.
    package static let maxDeliveryCountExceeded = "MaxDeliveryCountExceeded"
    /// The `DeadLetterReason` of an expired message (`deadLetterOnExpiration`).
    package static let expired = "TTLExpiredException"

    /// What a receive does with a message it meets.
    package enum Decision: Equatable {
        /// Lock it and hand it out (its delivery count goes up by one).
        case deliver
        /// Expired: remove it (leaving a duplicate-window marker).
        case drop
        /// Move it to the queue's dead-letter queue with this reason.
        case deadLetter(reason: String)
    }

    /// The lock a receive takes: `requested`, or the queue's; refused when
    /// not positive or beyond ten years.
    package static func lockDuration(_ requested: Duration?, _ settings: QueueSettings) throws -> Duration {
        let d = requested ?? settings.lockDuration
        guard d > .zero, d <= QueueSettings.longest else {
            throw MessageStoreError(.invalidArgument, "lockDuration must be positive and at most ten years")
        }
        return d
    }

    /// `m` as stored: checked, and given the queue's default time to live
    /// when it carries no expiry.
    package static func admit(_ m: Message, _ settings: QueueSettings) throws -> Message {
        try InMemoryMessageStore.validate(m)
        var m = m
        if m.expiresAt == nil, let ttl = settings.defaultTimeToLive { m.expiresAt = m.timestamp.adding(ttl) }
        return m
    }

    /// What a receive from `queue` does with the visible, unlocked `m`.
    package static func onReceive(_ m: Message, queue: String, _ settings: QueueSettings, now: Date) -> Decision {
        if EntityPath.isDeadLetterQueue(queue) { return .deliver }
        if let e = m.expiresAt, e <= now { return settings.deadLetterOnExpiration ? .deadLetter(reason: expired) : .drop }
        if m.deliveryCount >= settings.maxDeliveryCount { return .deadLetter(reason: maxDeliveryCountExceeded) }
        return .deliver
    }

    /// The dead-letter reason when an abandoned `m` has used its deliveries;
    /// nil when it goes back to its queue.
    package static func onAbandon(_ m: Message, queue: String, _ settings: QueueSettings) -> String? {
        !EntityPath.isDeadLetterQueue(queue) && m.deliveryCount >= settings.maxDeliveryCount ? maxDeliveryCountExceeded : nil
    }

    /// `m` moved to its queue's dead-letter queue with `reason`.
    package static func deadLettered(_ m: Message, reason: String) -> Message {
        var m = m
        m.queue = EntityPath.deadLetterQueue(of: m.queue)
        m.headers[deadLetterReasonHeader] = reason
        return m
    }

    /// Until when `m`'s id stays a duplicate after its ack; nil when not past `now`.
    package static func duplicateWindowEnd(_ m: Message, _ settings: QueueSettings, now: Date) -> Date? {
        guard let w = settings.duplicateDetectionWindow else { return nil }
        let end = m.timestamp.adding(w)
        return end > now ? end : nil
    }

    /// The millisecond `m` becomes visible at (what orders a queue).
    package static func visibleAt(_ m: Message) -> Int64 { (m.scheduledAt ?? m.timestamp).millisecondsSince1970 }
}
