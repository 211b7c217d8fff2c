import Foundation

/// Queues, topics and subscriptions with their settings: the part of a
/// store's state both backends keep the same way (the LSM store also
/// persists every change in its `entities` family). Not thread-safe; the
/// owner serialises access.
package struct EntityCatalog: Sendable, Codable, Equatable {
    /// Settings of every queue created explicitly or by a first `add`.
    package var queues: [String: QueueSettings] = [:]
    /// Topic → subscription name → subscription.
    package var topics: [String: [String: Subscription]] = [:]

    package struct Subscription: Sendable, Codable, Equatable {
        package var settings: QueueSettings
        package var filter: SubscriptionFilter
        package init(settings: QueueSettings, filter: SubscriptionFilter) {
            self.settings = settings
            self.filter = filter
        }
    }

    package init() {}

    /// The settings that govern `queue`: a subscription's own, a dead-letter
    /// queue's base queue's, or the queue's (defaults when unknown).
    package func settings(of queue: String) -> QueueSettings {
        if let s = queues[queue] { return s }
        if EntityPath.isDeadLetterQueue(queue) {
            return settings(of: String(queue.dropLast("/$deadletterqueue".count)))
        }
        if let (topic, name) = subscriptionOf(queue), let s = topics[topic]?[name] { return s.settings }
        return QueueSettings()
    }

    /// (topic, subscription) when `queue` is a live subscription's queue.
    package func subscriptionOf(_ queue: String) -> (String, String)? {
        guard let r = queue.range(of: "/subscriptions/", options: .backwards) else { return nil }
        let topic = String(queue[..<r.lowerBound]), name = String(queue[r.upperBound...])
        return topics[topic]?[name] == nil ? nil : (topic, name)
    }

    /// Whether `queue` needs registering on first add (not known, and not of
    /// a derived form: those are never registered as user queues).
    package func needsImplicitRegistration(_ queue: String) -> Bool {
        queues[queue] == nil && Self.reservedForm(of: queue) == nil
    }

    /// Checks that messages may be added to `queue`: a plain name (registered
    /// on first add), the queue of an existing subscription, or the
    /// dead-letter queue of an existing queue or subscription — never a
    /// derived name whose entity does not exist (`.notFound`), nor the
    /// dead-letter queue of a dead-letter queue (`.invalidArgument`), which
    /// would otherwise be stored under a name no entity owns. Every backend
    /// calls it before writing a batch, so a refused batch stores nothing.
    package func validateAddTarget(_ queue: String) throws {
        // Every derived form has a slash; a plain name needs no search
        // (Foundation's substring search was 2% of a 64-client round trip).
        guard Self.hasSlash(queue) else { return }
        if EntityPath.isDeadLetterQueue(queue) {
            let base = String(queue.dropLast(Self.deadLetterSuffix.count))
            if EntityPath.isDeadLetterQueue(base) {
                throw MessageStoreError(.invalidArgument, "queue name \(queue) is reserved: a dead-letter queue has no dead-letter queue")
            }
            if base.contains(Self.subscriptionInfix) {
                guard subscriptionOf(base) != nil else {
                    throw MessageStoreError(.notFound, "no subscription for \(base), whose dead-letter queue is \(queue)")
                }
            } else if queues[base] == nil {
                throw MessageStoreError(.notFound, "no queue \(base), whose dead-letter queue is \(queue)")
            }
        } else if queue.contains(Self.subscriptionInfix), subscriptionOf(queue) == nil {
            throw MessageStoreError(.notFound, "no subscription for \(queue): names containing \(Self.subscriptionInfix) are subscription queues")
        }
    }

    private static func hasSlash(_ name: String) -> Bool { name.utf8.contains(UInt8(ascii: "/")) }

    private static let deadLetterSuffix = "/$deadletterqueue"
    private static let subscriptionInfix = "/subscriptions/"

    /// Checks the name of a queue, topic or subscription a user creates:
    /// not empty, at most 60,000 bytes, and not of a derived form — ending
    /// in `/$deadletterqueue` (a dead-letter queue) or containing
    /// `/subscriptions/` (a subscription's queue) — which the store would
    /// otherwise silently treat as that derived queue. Every backend calls
    /// it (`.invalidArgument`).
    package static func validateName(_ name: String, _ what: String) throws {
        if name.isEmpty { throw MessageStoreError(.invalidArgument, "\(what) name must not be empty") }
        if name.utf8.count > 60_000 { throw MessageStoreError(.invalidArgument, "\(what) name longer than 60000 bytes") }
        if let form = reservedForm(of: name) {
            throw MessageStoreError(.invalidArgument, "\(what) name \(name) is reserved: names \(form) are derived queues")
        }
    }

    /// The derived-name form `name` has, if any (for the error message).
    package static func reservedForm(of name: String) -> String? {
        guard hasSlash(name) else { return nil }
        if EntityPath.isDeadLetterQueue(name) { return "ending in /$deadletterqueue" }
        if name.contains("/subscriptions/") { return "containing /subscriptions/" }
        return nil
    }

    /// Copies of `messages` for the subscriptions of `topic` they pass.
    package func fanOut(_ messages: [Message], topic: String) throws -> [Message] {
        guard let subs = topics[topic] else { throw MessageStoreError(.notFound, "no topic \(topic)") }
        var copies: [Message] = []
        for m in messages {
            for (name, sub) in subs.sorted(by: { $0.key < $1.key }) where sub.filter.matches(m) {
                var c = m
                c.id = m.id + "/" + name
                c.queue = EntityPath.subscriptionQueue(topic: topic, subscription: name)
                copies.append(c)
            }
        }
        return copies
    }
}
