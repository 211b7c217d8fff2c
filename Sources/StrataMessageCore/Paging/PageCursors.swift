/// Where the boundary messages of recently served pages stood, so a page
/// can continue after (or before) a message that was completed, purged or
/// dead-lettered since it was listed: its id no longer leads to a position
/// in the store, but the store remembers where it was. Bounded: the oldest
/// of `capacity` remembered boundaries is forgotten first. Every backend's
/// `pending(queue:after:limit:)` and `recent(queue:before:limit:)` use it.
package final class PageCursors<Position: Sendable>: Sendable {
    private struct State {
        var positions: [Key: Position] = [:]
        var order: [Key] = []
        var next = 0
    }
    private struct Key: Hashable {
        var queue: String
        var id: String
    }
    private let state = StoreLock(State())
    private let capacity: Int

    /// Remembers up to `capacity` boundaries.
    package init(capacity: Int = 4096) { self.capacity = max(1, capacity) }

    /// Records that `id` of `queue` stood at `position` when a page ended there.
    package func remember(queue: String, id: String, at position: Position) {
        let key = Key(queue: queue, id: id)
        state.withLock { s in
            if s.positions.updateValue(position, forKey: key) != nil { return }
            if s.order.count < capacity {
                s.order.append(key)
            } else {
                s.positions[s.order[s.next]] = nil
                s.order[s.next] = key
                s.next = (s.next + 1) % capacity
            }
        }
    }

    /// Where `id` of `queue` stood when a page last ended at it.
    package func position(queue: String, id: String) -> Position? {
        state.withLock { $0.positions[Key(queue: queue, id: id)] }
    }

    /// The position to continue from: the message's current one when `id`
    /// is still stored in `queue`, else the remembered one, else `.notFound`.
    package func resolve(queue: String, id: String, current: Position?) throws -> Position {
        if let current { return current }
        if let p = position(queue: queue, id: id) { return p }
        throw MessageStoreError(.notFound, "page cursor \(id) is not a message of queue \(queue) (it was never listed here or was removed too long ago); start again from nil")
    }
}

/// The reload list every backend's `allQueueNames()` returns.
package enum QueueNames {
    /// The catalog's queues and subscription queues, plus the dead-letter
    /// queue of each when `hasMessages` says it holds any, sorted.
    package static func all(_ catalog: EntityCatalog, hasMessages: (String) throws -> Bool) rethrows -> [String] {
        var names = Set(catalog.queues.keys)
        for (topic, subs) in catalog.topics {
            for name in subs.keys { names.insert(EntityPath.subscriptionQueue(topic: topic, subscription: name)) }
        }
        var all = names
        for q in names {
            let dlq = EntityPath.deadLetterQueue(of: q)
            if try hasMessages(dlq) { all.insert(dlq) }
        }
        return all.sorted()
    }
}

/// A message's place in the backends that order a queue by visibility
/// millisecond, then insertion sequence (memory, SQLite, PostgreSQL, JSON).
package struct OrderPosition: Comparable, Sendable {
    /// The millisecond the message becomes visible.
    package var visibleAt: Int64
    /// Insertion order among messages of that millisecond.
    package var sequence: Int64
    /// A position.
    package init(_ visibleAt: Int64, _ sequence: Int64) {
        self.visibleAt = visibleAt
        self.sequence = sequence
    }
    package static func < (a: OrderPosition, b: OrderPosition) -> Bool {
        (a.visibleAt, a.sequence) < (b.visibleAt, b.sequence)
    }
}
