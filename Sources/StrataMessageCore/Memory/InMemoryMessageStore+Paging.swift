/// Paging and the reload list of the reference store: a walk of the queue's
/// ordered slots, cut at the cursor's position.
extension InMemoryMessageStore {
    private func cursor(_ id: String, queue: String, in s: State) throws -> QueuePosition {
        let current = s.messages[id].flatMap { $0.message.queue == queue ? $0.position : nil }
        return try cursors.resolve(queue: queue, id: id, current: current)
    }

    private func page(queue: String, from id: String?, limit: Int, newestFirst: Bool) throws -> [Message] {
        let page: [Stored] = try locked { s in
            let from = try id.map { try cursor($0, queue: queue, in: s) }
            let slots = (s.queues[queue]?.order ?? []).lazy.filter(\.alive)
            let chosen: [QueueIndex.Slot]
            if newestFirst {
                chosen = Array(slots.reversed().filter { from == nil || $0.position < from! }.prefix(max(0, limit)))
            } else {
                chosen = Array(slots.filter { from == nil || $0.position > from! }.prefix(max(0, limit)))
            }
            return chosen.map { s.messages[$0.id]! }
        }
        if let last = page.last { cursors.remember(queue: queue, id: last.message.id, at: last.position) }
        return page.map(\.message)
    }

    public func pending(queue: String, after id: String?, limit: Int) async throws -> [Message] {
        try page(queue: queue, from: id, limit: limit, newestFirst: false)
    }

    public func recent(queue: String, before id: String?, limit: Int) async throws -> [Message] {
        try page(queue: queue, from: id, limit: limit, newestFirst: true)
    }

    public func allQueueNames() async throws -> [String] {
        try locked { s in QueueNames.all(s.catalog) { (s.queues[$0]?.live ?? 0) > 0 } }
    }
}
