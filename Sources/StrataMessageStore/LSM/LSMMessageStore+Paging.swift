import Strata
import StrataMessageCore

/// Paging and the reload list on the engine: a page is one bounded scan of
/// the queue's key range, starting just past the cursor message's key (from
/// the `ids` family, or, once the message is gone, from where this store
/// last listed it).
extension LSMMessageStore {
    /// The key of cursor `id` in `queue`.
    private func cursorKey(_ id: String, queue: String, _ o: Opened) throws -> [UInt8] {
        var current: [UInt8]?
        if let raw = try o.db.get(Array(id.utf8), in: o.ids), case .stored(let key) = try MessageCodec.decodeIdEntry(raw),
           MessageCodec.queue(ofKey: key) == queue, try o.db.get(key, in: o.messages) != nil {
            current = key
        }
        return try cursors.resolve(queue: queue, id: id, current: current)
    }

    public func pending(queue: String, after id: String?, limit: Int) async throws -> [Message] {
        let o = try opened()
        guard limit > 0 else { return [] }
        let rt = try runtime(queue, o)
        var start = try startOfStoredMessages(rt, o)
        if let id {
            let next = MessageCodec.successor(try cursorKey(id, queue: queue, o))
            if start.lexicographicallyPrecedes(next) { start = next }
        }
        var out: [Message] = []
        var lastKey: [UInt8] = []
        try scan(rt, from: start, o) { key, m, d in
            var m = m
            if let d { m.deliveryCount = d.count }
            out.append(m)
            lastKey = key
            return out.count < limit
        }
        if let last = out.last { cursors.remember(queue: queue, id: last.id, at: lastKey) }
        return out
    }

    public func recent(queue: String, before id: String?, limit: Int) async throws -> [Message] {
        let o = try opened()
        guard limit > 0 else { return [] }
        let rt = try runtime(queue, o)
        let start = try startOfStoredMessages(rt, o)
        let end = try id.map { try cursorKey($0, queue: queue, o) } ?? rt.end
        guard start.lexicographicallyPrecedes(end) else { return [] }
        let bounds = ReadOptions(lowerBound: start, upperBound: end)
        let it = try o.db.makeIterator(in: o.messages, options: bounds)
        let dit = try o.db.makeIterator(in: o.delivery, options: bounds)
        var out: [Message] = []
        var lastKey: [UInt8] = []
        it.seekToLast()
        while it.isValid && out.count < limit {
            var m = try MessageCodec.decode(it.value)
            dit.seek(it.key)
            if dit.isValid && dit.key == it.key { m.deliveryCount = try MessageCodec.decodeDelivery(dit.value).count }
            out.append(m)
            lastKey = it.key
            it.prev()
        }
        try it.checkStatus()
        try dit.checkStatus()
        if let last = out.last { cursors.remember(queue: queue, id: last.id, at: lastKey) }
        return out
    }

    public func allQueueNames() async throws -> [String] {
        let o = try opened()
        let c = catalog.withLock { $0 }
        return try QueueNames.all(c) { q in
            let prefix = MessageCodec.queuePrefix(q)
            let it = try o.db.makeIterator(in: o.messages, options: ReadOptions(lowerBound: prefix, upperBound: MessageCodec.queueEnd(q)))
            it.seekToFirst()
            try it.checkStatus()
            return it.isValid
        }
    }
}
