/// Paging and the reload list of the JSON backend: binary searches in the
/// queue's ordered entries.
extension JSONFileMessageStore {
    private func cursor(_ id: String, queue: String, in s: State) throws -> OrderPosition {
        let current = Self.locate(id, in: s).flatMap { $0.queue == queue ? s.queues[queue]![$0.index].position : nil }
        return try cursors.resolve(queue: queue, id: id, current: current)
    }

    /// The index of the first entry after `p` in `entries`.
    private static func firstIndex(after p: OrderPosition, in entries: [Entry]) -> Int {
        var lo = 0, hi = entries.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if entries[mid].position <= p { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    public func pending(queue: String, after id: String?, limit: Int) async throws -> [Message] {
        let page: [Entry] = try read { s in
            let entries = s.queues[queue] ?? []
            let start = try id.map { Self.firstIndex(after: try cursor($0, queue: queue, in: s), in: entries) } ?? 0
            return Array(entries[start...].prefix(max(0, limit)))
        }
        if let last = page.last { cursors.remember(queue: queue, id: last.message.id, at: last.position) }
        return page.map(\.message)
    }

    public func recent(queue: String, before id: String?, limit: Int) async throws -> [Message] {
        let page: [Entry] = try read { s in
            let entries = s.queues[queue] ?? []
            var end = entries.count
            if let id {
                let p = try cursor(id, queue: queue, in: s)
                end = Self.firstIndex(after: p, in: entries)
                if end > 0 && entries[end - 1].position == p { end -= 1 }
            }
            return Array(entries[..<end].suffix(max(0, limit)).reversed())
        }
        if let last = page.last { cursors.remember(queue: queue, id: last.message.id, at: last.position) }
        return page.map(\.message)
    }

    public func allQueueNames() async throws -> [String] {
        try read { s in QueueNames.all(s.catalog) { !(s.queues[$0]?.isEmpty ?? true) } }
    }
}
