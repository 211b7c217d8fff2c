import Foundation

/// One message of a queue's in-memory window.
struct WindowEntry {
    var key: [UInt8]
    var message: Message
    /// Visibility time (ms), from the key.
    var visibleAt: Int64
    /// False while the add that stores it is still being written: not
    /// deliverable yet (the write could fail).
    var landed: Bool
    var lock: UUID?
    var lockedUntil: Int64 = 0
    /// A write that changes this entry (lock, ack, dead-letter) is in
    /// flight; nobody else may act on it until that write has finished.
    var busy = false
    /// Acknowledged or moved away; dropped from the array lazily.
    var removed = false

    var bytes: Int { cachedBytes(key: key, message) }

    func isLocked(at now: Int64) -> Bool { lock != nil && lockedUntil > now }
}

/// The in-memory picture of one queue in the LSM store: an exact copy of
/// every live message with a key in `[floor, loadedThrough]` (in-flight adds
/// included), sorted by key, so receives are served from memory and the
/// queue's head — the oldest unacknowledged key — is known exactly. Adds
/// above `loadedThrough` wait in `beyond` until they land (a refill that
/// moves past them takes them in). Guarded by its `QueueRuntime`'s mutex.
struct QueueWindow {
    var entries: [WindowEntry] = []
    var removedCount = 0
    /// How many entries at the front are removed (so `entries[leadingRemoved]`
    /// is the head when it exists); FIFO acks trim them in chunks.
    var leadingRemoved = 0
    /// Every key of the queue below this is acknowledged (nothing loaded yet).
    var floor: [UInt8]
    /// The last key loaded; nil = nothing loaded, scan from `floor`.
    var loadedThrough: [UInt8]?
    /// Every message of the queue is in `entries` (the queue's tail was
    /// reached): new adds go straight into the window.
    var coversTail = false
    /// In-flight adds above `loadedThrough`, by key.
    var beyond: [KeyBytes: Message] = [:]
    /// Keys below this were cleared by a range delete that is written (or
    /// being written); new keys are placed at or above its time.
    var persistedHead: [UInt8]
    var persistedHeadMs: Int64
    /// Acknowledgements since the last range delete.
    var acksSinceRangeDelete = 0
    var bytes = 0
    /// Index before which every entry was, at the last receive, not
    /// deliverable (locked, busy, removed or unlanded) …
    var skipHint = 0
    /// … until this time (the earliest lock end among them).
    var skipHintValidUntil: Int64 = .max
    /// The queue's newest messages (cache-first `recent` reads).
    var recent: RecentMessages

    init(floor: [UInt8], floorMs: Int64, recentCapacity: Int) {
        self.recent = RecentMessages(capacity: recentCapacity)
        self.floor = floor
        self.persistedHead = floor
        self.persistedHeadMs = floorMs
    }

    /// Position of `key`: its index if present, else where it would go.
    func position(of key: [UInt8]) -> (found: Bool, index: Int) {
        // Most keys go to (or are looked up near) the end: adds append.
        if let last = entries.last {
            let c = compareKeys(last.key, key)
            if c < 0 { return (false, entries.count) }
            if c == 0 { return (true, entries.count - 1) }
        }
        var lo = 0, hi = entries.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if compareKeys(entries[mid].key, key) < 0 { lo = mid + 1 } else { hi = mid }
        }
        return (lo < entries.count && compareKeys(entries[lo].key, key) == 0, lo)
    }

    /// Whether `key` lies inside the loaded range (the window is exact there).
    func covers(_ key: [UInt8]) -> Bool {
        if coversTail { return true }
        guard let l = loadedThrough else { return false }
        return compareKeys(l, key) >= 0
    }

    mutating func insert(_ e: WindowEntry) {
        let p = position(of: e.key)
        if p.found {
            if entries[p.index].removed { removedCount -= 1 } else { bytes -= entries[p.index].bytes }
            entries[p.index] = e
        } else {
            entries.insert(e, at: p.index)
        }
        bytes += e.bytes
        if p.index < leadingRemoved { leadingRemoved = p.index }
        if p.index < skipHint { skipHint = 0 }
    }

    /// Registers an add that is about to be written.
    mutating func registerAdd(key: [UInt8], message: Message) {
        // Keep "everything below floor is acknowledged" true.
        if compareKeys(key, floor) < 0 { floor = key }
        recent.record(key, message)
        if covers(key) {
            insert(WindowEntry(key: key, message: message, visibleAt: MessageCodec.milliseconds(ofKey: key) ?? 0, landed: false))
        } else {
            beyond[KeyBytes(key)] = message
        }
    }

    /// The add's write finished (`ok`) or failed.
    mutating func finishAdd(key: [UInt8], ok: Bool) {
        recent.land(key, ok: ok)
        if !beyond.isEmpty && beyond.removeValue(forKey: KeyBytes(key)) != nil { return }
        let p = position(of: key)
        guard p.found, !entries[p.index].landed else { return }
        if ok {
            entries[p.index].landed = true
            if p.index < skipHint { skipHint = 0 }
        } else {
            markRemoved(at: p.index)
        }
    }

    mutating func markRemoved(at i: Int) {
        guard !entries[i].removed else { return }
        recent.forget(entries[i].key)
        entries[i].removed = true
        entries[i].busy = false
        bytes -= entries[i].bytes
        removedCount += 1
        if i == leadingRemoved {
            while leadingRemoved < entries.count && entries[leadingRemoved].removed { leadingRemoved += 1 }
            if leadingRemoved >= 64 && leadingRemoved * 4 >= entries.count { trimFront() }
        }
        if removedCount > 64 && removedCount * 2 > entries.count { dropRemoved() }
    }

    /// Forgets the leading removed entries, raising the floor past them
    /// (everything up to the last of them is acknowledged).
    mutating func trimFront() {
        guard leadingRemoved > 0 else { return }
        let last = entries[leadingRemoved - 1].key
        if compareKeys(floor, last) <= 0 { floor = MessageCodec.successor(last) }
        entries.removeFirst(leadingRemoved)
        removedCount -= leadingRemoved
        skipHint = max(0, skipHint - leadingRemoved)
        leadingRemoved = 0
    }

    mutating func dropRemoved() {
        trimFront()
        entries.removeAll { $0.removed }
        removedCount = 0
        skipHint = 0
    }

    /// Forgets every entry (a purge); in-flight adds move to `beyond`.
    mutating func reset() {
        recent.clear()
        for e in entries where !e.removed && !e.landed { beyond[KeyBytes(e.key)] = e.message }
        entries = []
        removedCount = 0
        leadingRemoved = 0
        bytes = 0
        skipHint = 0
        loadedThrough = nil
        coversTail = false
    }

    /// Removes the entry with `key` if present; true if it was live.
    @discardableResult
    mutating func remove(key: [UInt8]) -> Bool {
        recent.forget(key)
        let p = position(of: key)
        guard p.found, !entries[p.index].removed else { return false }
        markRemoved(at: p.index)
        return true
    }

    /// The oldest key that may still be live: everything below is acknowledged.
    var head: [UInt8] {
        // In-flight adds outside the window are above loadedThrough (or at
        // or above floor when nothing is loaded), so they never lower this.
        if leadingRemoved < entries.count { return entries[leadingRemoved].key }
        if let l = loadedThrough, compareKeys(floor, l) < 0 { return MessageCodec.successor(l) }
        return floor
    }

    /// Where a scan of the queue's stored messages may start.
    var scanStart: [UInt8] { head }

    /// Count of deliverable-looking entries (landed, unlocked, not busy) at `now`.
    func deliverableCount(now: Int64, atMost: Int) -> Int {
        var n = 0
        for e in entries where !e.removed && e.landed && !e.busy && !e.isLocked(at: now) && e.visibleAt <= now {
            n += 1
            if n >= atMost { break }
        }
        return n
    }

    /// Drops unlocked, settled entries from the tail until `bytes <= budget`
    /// (a cache eviction); the window stays exact for the shorter range.
    mutating func evict(toBytes budget: Int) {
        if removedCount > 0 { dropRemoved() }
        leadingRemoved = 0
        while bytes > budget, let last = entries.last, last.landed, !last.busy {
            bytes -= last.bytes
            entries.removeLast()
            coversTail = false
            loadedThrough = entries.last?.key
            if loadedThrough == nil { floor = last.key }
        }
        if skipHint > entries.count { skipHint = 0 }
    }
}

/// A queue key as a dictionary key, hashed as one byte buffer: an
/// `[UInt8]` key is hashed element by element (about 30 hasher calls per
/// key), which was 4–5% of a one-client enqueue's profile.
struct KeyBytes: Hashable {
    let bytes: [UInt8]
    init(_ bytes: [UInt8]) { self.bytes = bytes }
    func hash(into hasher: inout Hasher) { bytes.withUnsafeBytes { hasher.combine(bytes: $0) } }
    static func == (a: KeyBytes, b: KeyBytes) -> Bool { a.bytes == b.bytes }
}

/// Byte-wise order of two keys (memcmp, then length).
@inline(__always)
func compareKeys(_ a: [UInt8], _ b: [UInt8]) -> Int {
    a.withUnsafeBufferPointer { pa in
        b.withUnsafeBufferPointer { pb in
            let n = min(pa.count, pb.count)
            if n > 0 {
                let c = memcmp(pa.baseAddress!, pb.baseAddress!, n)
                if c != 0 { return Int(c) }
            }
            return pa.count - pb.count
        }
    }
}
