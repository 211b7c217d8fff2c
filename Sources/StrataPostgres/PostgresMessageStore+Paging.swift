import PostgresNIO
import StrataMessageCore

/// Paging and the reload list: keyset pages on the `messages_by_queue`
/// index `(queue, visible_at, seq)` from the cursor message's row (or,
/// once it is gone, from where this store last listed it). Each page is one
/// statement, so it is consistent in itself; pages chain across commits.
extension PostgresMessageStore {
    private func page(queue: String, from id: String?, limit: Int, newestFirst: Bool) async throws -> [Message] {
        try checkOpen()
        guard limit > 0 else { return [] }
        let (cmp, order) = newestFirst ? ("<", "DESC") : (">", "")
        var q: PostgresQuery = "SELECT \(unescaped: columns) FROM \(unescaped: t)messages WHERE queue = \(queue)"
        if let id {
            var current: OrderPosition?
            try await rows("page", "SELECT visible_at, seq FROM \(unescaped: t)messages WHERE id = \(id) AND queue = \(queue)") { row in
                let (v, s) = try row.decode((Int, Int).self)
                current = OrderPosition(Int64(v), Int64(s))
            }
            let p = try cursors.resolve(queue: queue, id: id, current: current)
            q = """
                SELECT \(unescaped: columns) FROM \(unescaped: t)messages WHERE queue = \(queue)
                AND (visible_at, seq) \(unescaped: cmp) (\(Int(p.visibleAt)), \(Int(p.sequence)))
                """
        }
        q.sql += " ORDER BY visible_at \(order), seq \(order) LIMIT \(min(limit, 1 << 30))"
        var out: [Stored] = []
        try await rows("page", q) { out.append(try stored($0)) }
        if let last = out.last { cursors.remember(queue: queue, id: last.message.id, at: OrderPosition(last.visibleAt, last.seq)) }
        return out.map(\.message)
    }

    public func pending(queue: String, after id: String?, limit: Int) async throws -> [Message] {
        try await page(queue: queue, from: id, limit: limit, newestFirst: false)
    }

    public func recent(queue: String, before id: String?, limit: Int) async throws -> [Message] {
        try await page(queue: queue, from: id, limit: limit, newestFirst: true)
    }

    public func allQueueNames() async throws -> [String] {
        try checkOpen()
        let cat = try await catalog()
        let candidates = QueueNames.all(cat) { _ in true }.filter(EntityPath.isDeadLetterQueue)
        var holding = Set<String>()
        try await rows("allQueueNames", """
            SELECT q FROM unnest(\(candidates)::text[]) AS q WHERE EXISTS (SELECT 1 FROM \(unescaped: t)messages m WHERE m.queue = q)
            """) { holding.insert(try $0.decode(String.self)) }
        return QueueNames.all(cat) { holding.contains($0) }
    }
}
