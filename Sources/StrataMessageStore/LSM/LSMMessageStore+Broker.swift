import Foundation
import Strata

/// Peek-lock delivery, dead letters, purge and statistics of the LSM store.
/// Pattern of every operation: decide under the queue's window mutex and mark
/// the touched entries busy; write one batch; then apply (or, on failure,
/// undo) the decision under the mutex.
extension LSMMessageStore {
    /// What a receive decided for one window entry.
    private enum Decision {
        case deliver(ReceivedMessage)
        case drop(WindowEntry)
        case deadLetter(WindowEntry, reason: String)
    }

    public func receive(queue: String, limit: Int, lockDuration: Duration?) async throws -> [ReceivedMessage] {
        defer { enforceCacheBudgetIfGrown() }
        let o = try opened()
        guard limit > 0 else { return [] }
        let settings = catalog.withLock { $0.settings(of: queue) }
        let duration = try BrokerPolicy.lockDuration(lockDuration, settings)
        let now = clock.now()
        let nowMs = now.millisecondsSince1970
        let untilMs = nowMs + duration.milliseconds
        let rt = try runtime(queue, o)
        let started = MessageStoreMetrics.now
        let decisions: [Decision] = try rt.window.withLock { w in
            if !w.coversTail && w.deliverableCount(now: nowMs, atMost: limit) < limit {
                try refill(&w, rt, o, want: max(2 * min(limit, 1 << 20), 512), through: nil)
                cacheMisses.add(1, ordering: .relaxed)
            } else {
                cacheHits.add(1, ordering: .relaxed)
            }
            var out: [Decision] = []
            var deliveries = 0
            var i = nowMs < w.skipHintValidUntil ? min(w.skipHint, w.entries.count) : 0
            var prefixEnds = true
            var earliestLockEnd = i > 0 ? w.skipHintValidUntil : Int64.max
            while deliveries < limit {
                if i >= w.entries.count {
                    // Expired or exhausted entries used up the window: load
                    // more (new entries all sort after the ones seen).
                    guard !w.coversTail else { break }
                    try refill(&w, rt, o, want: max(2 * min(limit, 1 << 20), 512), through: nil)
                    if i >= w.entries.count { break }
                }
                let removed = w.entries[i].removed, busy = w.entries[i].busy, landed = w.entries[i].landed
                let lockedNow = w.entries[i].isLocked(at: nowMs)
                if removed || busy || !landed || lockedNow {
                    if prefixEnds {
                        if lockedNow { earliestLockEnd = min(earliestLockEnd, w.entries[i].lockedUntil) }
                        // Busy or unlanded entries change without a lock end:
                        // only removed and locked ones may be skipped next time.
                        if removed || (lockedNow && !busy) {
                            w.skipHint = i + 1
                            w.skipHintValidUntil = earliestLockEnd
                        } else {
                            prefixEnds = false
                        }
                    }
                    i += 1
                    continue
                }
                if w.entries[i].visibleAt > nowMs { break }
                let e = w.entries[i]
                prefixEnds = false
                w.entries[i].busy = true
                switch BrokerPolicy.onReceive(e.message, queue: queue, settings, now: now) {
                case .drop: out.append(.drop(e))
                case .deadLetter(let reason): out.append(.deadLetter(e, reason: reason))
                case .deliver:
                    var m = e.message
                    m.deliveryCount += 1
                    deliveries += 1
                    let token = LockToken(id: newLockID(), messageID: m.id, queue: queue, storageKey: e.key)
                    out.append(.deliver(ReceivedMessage(message: m, lockToken: token,
                                                        lockedUntil: Date(timeIntervalSince1970: Double(untilMs) / 1000))))
                }
                i += 1
            }
            if prefixEnds && i >= w.entries.count { w.skipHint = w.entries.count; w.skipHintValidUntil = earliestLockEnd }
            return out
        }
        if decisions.isEmpty { return [] }
        var batch = WriteBatch(reservingCapacity: decisions.count * (rt.prefix.count + 64))
        var deadLettered: [(QueueRuntime, [UInt8])] = []
        for d in decisions {
            switch d {
            case .deliver(let r):
                batch.put(r.lockToken.storageKey, MessageCodec.encode(MessageCodec.Delivery(
                    count: r.message.deliveryCount, lock: r.lockToken.id, lockedUntil: untilMs)), in: o.delivery)
            case .drop(let e):
                appendAck(key: e.key, message: e.message, now: now, to: &batch, o)
            case .deadLetter(let e, let reason):
                deadLettered.append(try appendDeadLetter(e.key, e.message, reason: reason, now: now, to: &batch, o))
            }
        }
        var failure: (any Error)?
        do {
            try await write(batch, o)
        } catch {
            failure = error
        }
        let ok = failure == nil
        var delivered: [ReceivedMessage] = []
        rt.window.withLock { w in
            for d in decisions {
                switch d {
                case .deliver(let r):
                    let p = w.position(of: r.lockToken.storageKey)
                    guard p.found, !w.entries[p.index].removed else { continue }
                    w.entries[p.index].busy = false
                    if ok {
                        w.entries[p.index].lock = r.lockToken.id
                        w.entries[p.index].lockedUntil = untilMs
                        w.entries[p.index].message.deliveryCount = r.message.deliveryCount
                        w.recent.delivered(r.lockToken.storageKey, count: r.message.deliveryCount)
                        delivered.append(r)
                    }
                case .drop(let e), .deadLetter(let e, _):
                    let p = w.position(of: e.key)
                    guard p.found, !w.entries[p.index].removed else { continue }
                    if ok {
                        w.markRemoved(at: p.index)
                        w.acksSinceRangeDelete += 1
                    } else {
                        w.entries[p.index].busy = false
                    }
                }
            }
            if !ok { w.skipHint = 0 }
        }
        for (dlq, key) in deadLettered {
            dlq.window.withLock { $0.finishAdd(key: key, ok: ok) }
            if ok { dlq.arrivals.signal(count: 1) }
        }
        if let failure { throw failure }
        metrics.received.increment(by: delivered.count)
        metrics.receiveLatency.recordNanoseconds(MessageStoreMetrics.since(started))
        if delivered.count < decisions.count { metrics.deadLettered.increment(by: decisions.count - delivered.count) }
        if !deadLettered.isEmpty || decisions.count > delivered.count { try await maybeClearAcknowledged(rt, o) }
        return delivered
    }

    public func receive(queue: String, limit: Int, lockDuration: Duration?, maxWait: Duration) async throws -> [ReceivedMessage] {
        // Woken by the next add to land in this queue; lock expiries and
        // schedules have no signal, so never sleeps longer than 50 ms.
        // Cancellation ends the wait at once (`CancellationError`).
        try await longPoll(maxWait: maxWait, signal: { try runtime(queue, try opened()).arrivals }) {
            try await receive(queue: queue, limit: limit, lockDuration: lockDuration)
        }
    }

    /// Adds to `batch` the move of the message at `key` to its queue's
    /// dead-letter queue; returns the dead-letter queue's runtime and the new
    /// key (registered as an in-flight add there).
    func appendDeadLetter(_ key: [UInt8], _ message: Message, reason: String, now: Date,
                          to batch: inout WriteBatch, _ o: Opened) throws -> (QueueRuntime, [UInt8]) {
        let m = BrokerPolicy.deadLettered(message, reason: reason)
        let dlq = try runtime(m.queue, o)
        let newKey = dlq.window.withLock { w in
            let k = MessageCodec.key(prefix: dlq.prefix, milliseconds: max(now.millisecondsSince1970, w.persistedHeadMs),
                                     sequence: sequence.add(1, ordering: .relaxed).newValue)
            w.registerAdd(key: k, message: m)
            return k
        }
        batch.delete(key, in: o.messages)
        batch.delete(key, in: o.delivery)
        batch.put(newKey, MessageCodec.encode(m), in: o.messages)
        batch.put(Array(m.id.utf8), MessageCodec.encode(.stored(key: newKey)), in: o.ids)
        return (dlq, newKey)
    }

    /// Loads the queue's stored messages after the window (under its mutex)
    /// until `want` more are loaded and `through` (if given) is covered, or
    /// the queue ends.
    func refill(_ w: inout QueueWindow, _ rt: QueueRuntime, _ o: Opened, want: Int, through: [UInt8]?) throws {
        guard !w.coversTail else { return }
        var start = w.floor
        if let l = w.loadedThrough, !MessageCodec.successor(l).lexicographicallyPrecedes(start) { start = MessageCodec.successor(l) }
        var loaded = 0
        var last: [UInt8]?
        var reachedEnd = true
        try scan(rt, from: start, o) { key, message, delivery in
            if loaded >= want, through.map({ !key.lexicographicallyPrecedes($0) && key != $0 }) ?? true {
                reachedEnd = false
                return false
            }
            var m = message
            var e = WindowEntry(key: key, message: m, visibleAt: MessageCodec.milliseconds(ofKey: key) ?? 0, landed: true)
            noteCacheGrowth(e.bytes)
            if let delivery {
                m.deliveryCount = delivery.count
                e.message = m
                e.lock = delivery.lock
                e.lockedUntil = delivery.lockedUntil
            }
            if !w.beyond.isEmpty { w.beyond[KeyBytes(key)] = nil }
            w.insert(e)
            loaded += 1
            last = key
            return true
        }
        if reachedEnd {
            w.coversTail = true
            if let last { w.loadedThrough = last }
            for (key, m) in w.beyond {
                w.insert(WindowEntry(key: key.bytes, message: m, visibleAt: MessageCodec.milliseconds(ofKey: key.bytes) ?? 0, landed: false))
            }
            w.beyond = [:]
        } else if let last {
            w.loadedThrough = last
            for (key, m) in w.beyond where !last.lexicographicallyPrecedes(key.bytes) {
                w.insert(WindowEntry(key: key.bytes, message: m, visibleAt: MessageCodec.milliseconds(ofKey: key.bytes) ?? 0, landed: false))
                w.beyond[key] = nil
            }
        }
    }

    /// The key of `token`'s message (from the token, or the id index).
    private func key(of token: LockToken, _ o: Opened) throws -> [UInt8] {
        if !token.storageKey.isEmpty { return token.storageKey }
        guard let key = try storedKey(of: token.messageID, o) else {
            throw MessageStoreError(.lockLost, "\(token) is not held (message not stored)")
        }
        return key
    }

    /// Checks that `token` holds a live lock and marks its entry busy;
    /// returns the entry. Loads the window up to the key first if needed.
    private func claim(_ token: LockToken, key: [UInt8], _ rt: QueueRuntime, nowMs: Int64, _ o: Opened) throws -> WindowEntry {
        try rt.window.withLock { w in
            if !w.covers(key) { try refill(&w, rt, o, want: 1, through: key) }
            let p = w.position(of: key)
            guard p.found, case let e = w.entries[p.index], !e.removed, !e.busy, e.lock == token.id, e.lockedUntil > nowMs,
                  e.message.id == token.messageID else {
                throw MessageStoreError(.lockLost, "\(token) is not held (expired, released, settled or never issued)")
            }
            w.entries[p.index].busy = true
            return e
        }
    }

    private func release(_ keys: [[UInt8]], _ rt: QueueRuntime) {
        rt.window.withLock { w in
            for k in keys {
                let p = w.position(of: k)
                if p.found { w.entries[p.index].busy = false }
            }
            w.skipHint = 0
        }
    }

    public func complete(_ tokens: [LockToken]) async throws {
        defer { enforceCacheBudgetIfGrown() }
        let started = MessageStoreMetrics.now
        let o = try opened()
        let now = clock.now()
        let nowMs = now.millisecondsSince1970
        var claimed: [(QueueRuntime, WindowEntry)] = []
        claimed.reserveCapacity(tokens.count)
        var batch = WriteBatch(reservingCapacity: tokens.reduce(0) { $0 + 2 * $1.storageKey.count + $1.messageID.utf8.count + 16 })
        do {
            for t in tokens {
                let rt = try runtime(t.queue, o)
                let e = try claim(t, key: try key(of: t, o), rt, nowMs: nowMs, o)
                claimed.append((rt, e))
                appendAck(key: e.key, message: e.message, now: now, to: &batch, o)
            }
            try await write(batch, o)
        } catch {
            for (rt, e) in claimed { release([e.key], rt) }
            throw error
        }
        var touched: [ObjectIdentifier: QueueRuntime] = [:]
        for (rt, e) in claimed {
            rt.window.withLock { w in
                if w.remove(key: e.key) { w.acksSinceRangeDelete += 1 }
            }
            touched[ObjectIdentifier(rt)] = rt
        }
        metrics.completed.increment(by: tokens.count)
        metrics.completeLatency.recordNanoseconds(MessageStoreMetrics.since(started))
        for rt in touched.values { try await maybeClearAcknowledged(rt, o) }
    }

    public func abandon(_ token: LockToken) async throws {
        try await release(token, deadLetterReason: nil)
    }

    public func deadLetter(_ token: LockToken, reason: String) async throws {
        try await release(token, deadLetterReason: reason)
    }

    /// Gives up `token`'s lock: moves the message to the dead-letter queue
    /// with `deadLetterReason`, or (nil) unlocks it for redelivery — unless it
    /// has used its deliveries, which dead-letters it too.
    private func release(_ token: LockToken, deadLetterReason: String?) async throws {
        defer { enforceCacheBudgetIfGrown() }
        let o = try opened()
        let now = clock.now()
        let rt = try runtime(token.queue, o)
        let e = try claim(token, key: try key(of: token, o), rt, nowMs: now.millisecondsSince1970, o)
        let settings = catalog.withLock { $0.settings(of: token.queue) }
        let reason = deadLetterReason ?? BrokerPolicy.onAbandon(e.message, queue: token.queue, settings)
        var batch = WriteBatch()
        var dlq: (QueueRuntime, [UInt8])?
        do {
            if let reason {
                dlq = try appendDeadLetter(e.key, e.message, reason: reason, now: now, to: &batch, o)
            } else {
                batch.put(e.key, MessageCodec.encode(MessageCodec.Delivery(count: e.message.deliveryCount, lock: nil, lockedUntil: 0)), in: o.delivery)
            }
            try await write(batch, o)
        } catch {
            if let (d, k) = dlq { d.window.withLock { $0.finishAdd(key: k, ok: false) } }
            release([e.key], rt)
            throw error
        }
        if let (d, k) = dlq {
            d.window.withLock { $0.finishAdd(key: k, ok: true) }
            d.arrivals.signal(count: 1)
        }
        rt.window.withLock { w in
            let p = w.position(of: e.key)
            guard p.found else { return }
            if reason != nil {
                w.markRemoved(at: p.index)
                w.acksSinceRangeDelete += 1
            } else {
                w.entries[p.index].busy = false
                w.entries[p.index].lock = nil
                w.entries[p.index].lockedUntil = 0
                w.skipHint = 0
            }
        }
        if reason != nil {
            metrics.deadLettered.increment()
            try await maybeClearAcknowledged(rt, o)
        } else {
            metrics.abandoned.increment()
            rt.arrivals.signal(count: 1)
        }
    }

    public func renewLock(_ token: LockToken) async throws -> Date {
        defer { enforceCacheBudgetIfGrown() }
        let o = try opened()
        let now = clock.now()
        let rt = try runtime(token.queue, o)
        let e = try claim(token, key: try key(of: token, o), rt, nowMs: now.millisecondsSince1970, o)
        let untilMs = now.millisecondsSince1970 + catalog.withLock { $0.settings(of: token.queue) }.lockDuration.milliseconds
        var batch = WriteBatch()
        batch.put(e.key, MessageCodec.encode(MessageCodec.Delivery(count: e.message.deliveryCount, lock: token.id, lockedUntil: untilMs)), in: o.delivery)
        do {
            try await write(batch, o)
        } catch {
            release([e.key], rt)
            throw error
        }
        rt.window.withLock { w in
            let p = w.position(of: e.key)
            if p.found { w.entries[p.index].busy = false; w.entries[p.index].lockedUntil = untilMs }
        }
        return Date(timeIntervalSince1970: Double(untilMs) / 1000)
    }

    public func purge(queue: String) async throws -> Int {
        let o = try opened()
        let rt = try runtime(queue, o)
        // Forget the window (in-flight adds keep their place in `beyond`),
        // count what is stored, then delete the queue's whole key range.
        let start = rt.window.withLock { w in
            let start = w.scanStart
            w.reset()
            return start
        }
        var count = 0
        try scan(rt, from: start, o) { _, _, _ in
            count += 1
            return true
        }
        var batch = WriteBatch()
        batch.deleteRange(from: rt.prefix, to: rt.end, in: o.messages)
        batch.deleteRange(from: rt.prefix, to: rt.end, in: o.delivery)
        try await write(batch, o)
        options.logger.notice("queue purged", metadata: ["queue": "\(queue)", "messages": "\(count)"])
        return count
    }

    public func statistics(queue: String) async throws -> QueueStatistics {
        defer { enforceCacheBudgetIfGrown() }
        let o = try opened()
        let now = clock.now()
        let nowMs = now.millisecondsSince1970
        var st = QueueStatistics()
        var oldest: Date?
        let rt = try runtime(queue, o)
        try scan(rt, from: try startOfStoredMessages(rt, o), o) { key, m, d in
            st.bytes += m.payload.count
            if (MessageCodec.milliseconds(ofKey: key) ?? 0) > nowMs { st.scheduled += 1 }
            else if let d, d.lock != nil, d.lockedUntil > nowMs { st.locked += 1 }
            else { st.active += 1 }
            oldest = min(oldest ?? m.timestamp, m.timestamp)
            return true
        }
        let dlq = try runtime(EntityPath.deadLetterQueue(of: queue), o)
        try scan(dlq, from: try startOfStoredMessages(dlq, o), o) { _, _, _ in
            st.deadLettered += 1
            return true
        }
        st.oldestAge = oldest.map { .milliseconds(max(0, nowMs - $0.millisecondsSince1970)) }
        return st
    }
}
