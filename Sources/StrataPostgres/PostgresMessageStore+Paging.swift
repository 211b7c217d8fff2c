import StrataMessageCore

/// Paging and the reload list: keyset pages on the `messages_by_queue`
/// index `(queue, visible_at, seq)` from the cursor message's row (or,
/// once it is gone, from where this store last listed it). Each page is one
/// statement, so it is consistent in itself; pages chain across commits.
extension PostgresMessageStore {
    private func page(queue: String, from id: String?, limit: Int, newestFirst: Bool) throws -> [Message] {
        guard limit > 0 else { return [] }
        let rows: [Stored] = try pool.with { c in
            let (cmp, order) = newestFirst ? ("<", "DESC") : (">", "")
            var params: [PostgresConnection.Value] = [.text(queue), .int(Int64(min(limit, 1 << 30)))]
            var filter = ""
            if let id {
                let found = try c.query("SELECT visible_at, seq FROM \(t)messages WHERE id = $1 AND queue = $2", [.text(id), .text(queue)])
                let current = found.count == 1 ? OrderPosition(found.int(0, 0), found.int(0, 1)) : nil
                let p = try cursors.resolve(queue: queue, id: id, current: current)
                params += [.int(p.visibleAt), .int(p.sequence)]
                filter = "AND (visible_at, seq) \(cmp) ($3, $4)"
            }
            return try stored(try c.query("SELECT \(columns) FROM \(t)messages WHERE queue = $1 \(filter) ORDER BY visible_at \(order), seq \(order) LIMIT $2", params))
        }
        if let last = rows.last { cursors.remember(queue: queue, id: last.message.id, at: OrderPosition(last.visibleAt, last.seq)) }
        return rows.map(\.message)
    }

    public func pending(queue: String, after id: String?, limit: Int) async throws -> [Message] {
        try page(queue: queue, from: id, limit: limit, newestFirst: false)
    }

    public func recent(queue: String, before id: String?, limit: Int) async throws -> [Message] {
        try page(queue: queue, from: id, limit: limit, newestFirst: true)
    }

    public func allQueueNames() async throws -> [String] {
        try pool.with { c in
            try QueueNames.all(try catalog(c)) { q in
                try c.query("SELECT 1 FROM \(t)messages WHERE queue = $1 LIMIT 1", [.text(q)]).count > 0
            }
        }
    }
}
