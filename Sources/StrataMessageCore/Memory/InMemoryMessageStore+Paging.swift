/// Paging and the reload list of the reference store: the same linear scans
/// as `pending(queue:limit:)`, cut at the cursor's position.
extension InMemoryMessageStore {
    typealias Position = OrderPosition

    private static func key(_ s: Stored) -> Position { OrderPosition(s.visibleAt, Int64(s.sequence)) }

    private func cursor(_ id: String, queue: String, in s: State) throws -> Position {
        let current = s.messages[id].flatMap { $0.message.queue == queue ? Self.key($0) : nil }
        return try cursors.resolve(queue: queue, id: id, current: current)
    }

    public func pending(queue: String, after id: String?, limit: Int) async throws -> [Message] {
        let page: [Stored] = try locked { s in
            let all = Self.ordered(s, queue: queue)
            guard let id else { return Array(all.prefix(max(0, limit))) }
            let from = try cursor(id, queue: queue, in: s)
            return Array(all.lazy.filter { Self.key($0) > from }.prefix(max(0, limit)))
        }
        if let last = page.last { cursors.remember(queue: queue, id: last.message.id, at: Self.key(last)) }
        return page.map(\.message)
    }

    public func recent(queue: String, before id: String?, limit: Int) async throws -> [Message] {
        let page: [Stored] = try locked { s in
            let all = Self.ordered(s, queue: queue).reversed()
            guard let id else { return Array(all.prefix(max(0, limit))) }
            let from = try cursor(id, queue: queue, in: s)
            return Array(all.lazy.filter { Self.key($0) < from }.prefix(max(0, limit)))
        }
        if let last = page.last { cursors.remember(queue: queue, id: last.message.id, at: Self.key(last)) }
        return page.map(\.message)
    }

    public func allQueueNames() async throws -> [String] {
        try locked { s in
            let stored = Set(s.messages.values.map(\.message.queue))
            return QueueNames.all(s.catalog) { stored.contains($0) }
        }
    }
}
