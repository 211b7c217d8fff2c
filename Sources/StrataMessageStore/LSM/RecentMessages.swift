/// The newest messages of one queue, in key order (the cache-first reads of
/// the chat seed): exactly the newest `entries.count` stored or in-flight
/// messages of the queue, at most `capacity`. An add is recorded before its
/// write starts (not yet `landed`, so not served), a removal after its
/// write; so a removal always follows its message's record. Guarded by the
/// queue's window mutex.
struct RecentMessages {
    struct Entry {
        var key: [UInt8]
        var message: Message
        var landed: Bool
    }
    var entries: [Entry] = []
    var capacity: Int
    /// `entries` holds every message of the queue (a scan reached its start).
    var complete = false
    /// False until loaded from the engine once (then kept exact).
    var loaded = false

    init(capacity: Int) { self.capacity = max(0, capacity) }

    private func position(_ key: [UInt8]) -> (found: Bool, index: Int) {
        if let last = entries.last, compareKeys(last.key, key) < 0 { return (false, entries.count) }
        var lo = 0, hi = entries.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if compareKeys(entries[mid].key, key) < 0 { lo = mid + 1 } else { hi = mid }
        }
        return (lo < entries.count && compareKeys(entries[lo].key, key) == 0, lo)
    }

    /// An add is about to be written.
    mutating func record(_ key: [UInt8], _ message: Message) {
        guard loaded, capacity > 0 else { return }
        let p = position(key)
        if p.found { return }
        if p.index == 0 {
            // Older than every entry (or the ring is empty): among the newest
            // only if the ring holds the whole queue and has room.
            guard complete, entries.count < capacity else { return }
        }
        entries.insert(Entry(key: key, message: message, landed: false), at: p.index)
        if entries.count > capacity {
            entries.removeFirst()
            complete = false
        }
    }

    /// The add's write finished (`ok`) or failed.
    mutating func land(_ key: [UInt8], ok: Bool) {
        let p = position(key)
        guard p.found else { return }
        if ok { entries[p.index].landed = true } else { entries.remove(at: p.index) }
    }

    /// The message left the queue (acknowledged, dead-lettered, purged).
    mutating func forget(_ key: [UInt8]) {
        let p = position(key)
        if p.found { entries.remove(at: p.index) }
    }

    /// A delivery counted for the message (receive).
    mutating func delivered(_ key: [UInt8], count: Int) {
        let p = position(key)
        if p.found { entries[p.index].message.deliveryCount = count }
    }

    mutating func clear() {
        entries = []
        complete = false
        loaded = false
    }

    /// Up to `limit` landed messages, newest first, if the ring can answer.
    func newest(_ limit: Int) -> [Message]? {
        guard loaded else { return nil }
        var out: [Message] = []
        for e in entries.reversed() where e.landed {
            out.append(e.message)
            if out.count == limit { return out }
        }
        // Fewer than asked: right only if nothing older exists.
        return complete ? out : nil
    }

    var bytes: Int { entries.reduce(0) { $0 + cachedBytes(key: $1.key, $1.message) } }
}
