import StrataMessageCore

/// Paging and the reload list: keyset pages on the `messages_by_queue`
/// index `(queue, visible_at, seq)`, continuing from the cursor message's
/// row (or, once it is gone, from where this store last listed it).
extension SQLiteMessageStore {
    private func position(of id: String, queue: String, _ c: SQLiteConnection) throws -> OrderPosition {
        var current: OrderPosition?
        try c.query("SELECT visible_at, seq FROM messages WHERE id = ?1 AND queue = ?2", [.text(id), .text(queue)]) {
            current = OrderPosition($0.int(0), $0.int(1))
            return false
        }
        return try cursors.resolve(queue: queue, id: id, current: current)
    }

    private func page(queue: String, from id: String?, limit: Int, newestFirst: Bool) async throws -> [Message] {
        guard limit > 0 else { return [] }
        let rows: [Stored] = try await locked { [self] c in
            let (cmp, order) = newestFirst ? ("<", "DESC") : (">", "")
            var bounds: [SQLiteConnection.Value] = [.text(queue), .int(Int64(min(limit, 1 << 30)))]
            var filter = ""
            if let id {
                let p = try position(of: id, queue: queue, c)
                bounds += [.int(p.visibleAt), .int(p.sequence)]
                filter = "AND (visible_at, seq) \(cmp) (?3, ?4)"
            }
            var out: [Stored] = []
            try c.query("SELECT \(Self.columns) FROM messages WHERE queue = ?1 \(filter) ORDER BY visible_at \(order), seq \(order) LIMIT ?2",
                        bounds) { out.append(try stored($0)); return true }
            return out
        }
        if let last = rows.last { cursors.remember(queue: queue, id: last.message.id, at: OrderPosition(last.visibleAt, last.seq)) }
        return rows.map(\.message)
    }

    public func pending(queue: String, after id: String?, limit: Int) async throws -> [Message] {
        try await page(queue: queue, from: id, limit: limit, newestFirst: false)
    }

    public func recent(queue: String, before id: String?, limit: Int) async throws -> [Message] {
        try await page(queue: queue, from: id, limit: limit, newestFirst: true)
    }

    public func allQueueNames() async throws -> [String] {
        try await locked { [self] c in
            try QueueNames.all(try loadCatalog(c)) { q in
                var found = false
                try c.query("SELECT 1 FROM messages WHERE queue = ?1 LIMIT 1", [.text(q)]) { _ in found = true; return false }
                return found
            }
        }
    }
}
