import Foundation

/// What one cached message costs in the estimate the cache budget is
/// enforced against: its key, id, payload and headers, plus a fixed
/// overhead for the entry and the message's other fields.
@inline(__always)
func cachedBytes(key: [UInt8], _ m: Message) -> Int {
    var n = key.count + m.id.utf8.count + m.payload.count + 96
    for (k, v) in m.headers { n += k.utf8.count + v.utf8.count + 32 }
    return n
}

extension LSMMessageStore {
    /// Records that a window or a newest-messages ring grew by `bytes`
    /// (adds, refills on receive, complete or pending, `recent` loads).
    func noteCacheGrowth(_ bytes: Int) {
        if bytes > 0 { cacheGrowth.add(bytes, ordering: .relaxed) }
    }

    /// Enforces the budget once the cache has grown by an eighth of it
    /// since the last enforcement, so it is exceeded by at most that (plus
    /// entries that cannot be evicted: in-flight writes) after any call.
    /// Called after every operation that can grow the cache, never while a
    /// window lock is held (eviction takes them).
    func enforceCacheBudgetIfGrown() {
        guard cacheGrowth.load(ordering: .relaxed) > max(1, options.cacheBudgetBytes / 8) else { return }
        cacheGrowth.store(0, ordering: .relaxed)
        enforceCacheBudget()
    }
}
