import Foundation

/// What one broker process of the shared-store run journaled
/// (`MessageStoreJournal` files, one per task, under the broker's folder).
/// Times are microseconds since 1970 on the machine's wall clock, which
/// every broker and the store read. Line kinds:
/// - `I t ids…` an add (one message or a batch) is about to be issued; `A t ids…` it returned.
/// - `R issued returned id|deliveryCount|token|lockedUntilMs …` a receive returned these locks.
/// - `C? t tokens…` a complete is about to be issued; `C t tokens…` it returned;
///   `F t tokens…` it failed with `.lockLost` (none of the batch applied).
/// - `U? t token` an abandon is about to be issued; `U t token` it returned; `UF t token` lock lost.
/// - `S t` a consumer stopped settling and holds its last locks (the broker to be killed).
/// - `P t` a producer added its share.
struct SharedStoreHistory {
    /// One delivery: a lock granted to `broker`.
    struct Receipt {
        var broker: Int
        var id: String
        var deliveryCount: Int
        var token: String
        var lockedUntilMs: Int64
        var issuedUs: Int64
        var returnedUs: Int64
    }

    var intended: Set<String> = []
    var added: Set<String> = []
    var receipts: [Receipt] = []
    /// Token → when its complete was issued.
    var completeIssued: [String: Int64] = [:]
    var completed: Set<String> = []
    var completeFailed: Set<String> = []
    /// Token → when its abandon was issued.
    var abandonIssued: [String: Int64] = [:]
    var abandoned: Set<String> = []
    var stalls = 0
    var producersDone = 0

    /// Reads every journal of broker `broker` in `directory`. A last line
    /// without its newline (a write cut short) is ignored.
    static func load(directory: String, broker: Int) -> SharedStoreHistory {
        var h = SharedStoreHistory()
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        for f in files.sorted() {
            guard let text = try? String(contentsOfFile: directory + "/" + f, encoding: .utf8) else { continue }
            var lines = text.split(separator: "\n", omittingEmptySubsequences: true)
            if !text.hasSuffix("\n"), !lines.isEmpty { lines.removeLast() }
            for line in lines { h.apply(line.split(separator: " ").map(String.init), broker: broker) }
        }
        return h
    }

    private mutating func apply(_ parts: [String], broker: Int) {
        guard parts.count >= 2, let t = Int64(parts[1]) else { return }
        let rest = Array(parts.dropFirst(2))
        switch parts[0] {
        case "I": intended.formUnion(rest)
        case "A": added.formUnion(rest)
        case "R":
            guard let returned = rest.first.flatMap({ Int64($0) }) else { return }
            for entry in rest.dropFirst() {
                let f = entry.split(separator: "|").map(String.init)
                guard f.count == 4, let count = Int(f[1]), let until = Int64(f[3]) else { continue }
                receipts.append(Receipt(broker: broker, id: f[0], deliveryCount: count, token: f[2], lockedUntilMs: until,
                                        issuedUs: t, returnedUs: returned))
            }
        case "C?": for token in rest { completeIssued[token] = t }
        case "C": completed.formUnion(rest)
        case "F": completeFailed.formUnion(rest)
        case "U?": for token in rest { abandonIssued[token] = t }
        case "U": abandoned.formUnion(rest)
        case "S": stalls += 1
        case "P": producersDone += 1
        default: break
        }
    }

    /// Tokens whose complete was issued and neither returned nor failed.
    var completesInFlight: Set<String> {
        Set(completeIssued.keys).subtracting(completed).subtracting(completeFailed)
    }

    /// Microseconds since 1970 now.
    static func nowUs() -> Int64 { Int64((Date().timeIntervalSince1970 * 1_000_000).rounded(.down)) }
}

/// The checks of a shared-store run over every broker's history and what
/// the store holds at the end (`SharedStoreStress`).
struct SharedStoreVerdict {
    /// The first violated rule, or nil.
    var failure: String?
    /// Locks the killed broker held when it died (not settled, no complete in flight).
    var orphanedLocks = 0
    /// Of those, how many a surviving broker received afterwards.
    var orphansRedelivered = 0
    var deliveries = 0
    var completes = 0
    var abandons = 0

    /// A delivery may be granted this much before the previous lock's end
    /// as the journals measure it: the stores round lock ends to milliseconds.
    static let clockSlackUs: Int64 = 2_000

    /// Checks, over all brokers (`victim` was SIGKILLed, the others drained
    /// the queue and `remaining` is what is stored at the end):
    /// - no two deliveries of a message carry the same delivery count (two
    ///   locks granted from one state);
    /// - each delivery of a message returned no earlier than the end of the
    ///   previous delivery's lock, or the issue of its abandon (no two live locks);
    /// - a complete that returned settled the message's last delivery, and
    ///   at most one complete per message returned (nothing completed comes back);
    /// - every acknowledged add was completed (or is in a complete the
    ///   killed broker had in flight), and nothing is left stored (nothing lost);
    /// - only intended messages were delivered;
    /// - the killed broker's locks were received by the others after they expired.
    static func judge(_ histories: [Int: SharedStoreHistory], victim: Int, remaining: [String]) -> SharedStoreVerdict {
        var v = SharedStoreVerdict()
        var intended = Set<String>(), added = Set<String>(), completed = Set<String>(), inFlight = Set<String>()
        var completeIssued: [String: Int64] = [:], abandonIssued: [String: Int64] = [:]
        var byMessage: [String: [SharedStoreHistory.Receipt]] = [:]
        var byToken: [String: SharedStoreHistory.Receipt] = [:]
        for (_, h) in histories {
            intended.formUnion(h.intended)
            added.formUnion(h.added)
            completed.formUnion(h.completed)
            inFlight.formUnion(h.completesInFlight)
            completeIssued.merge(h.completeIssued) { a, _ in a }
            abandonIssued.merge(h.abandonIssued) { a, _ in a }
            for r in h.receipts {
                byMessage[r.id, default: []].append(r)
                byToken[r.token] = r
            }
            v.deliveries += h.receipts.count
            v.abandons += h.abandoned.count
        }
        v.completes = completed.count
        func fail(_ s: String) -> SharedStoreVerdict {
            var failed = v
            failed.failure = s
            return failed
        }
        for id in byMessage.keys where !intended.contains(id) { return fail("message \(id) was delivered but never added") }
        var settledBy: [String: String] = [:]  // message → token whose complete returned
        for token in completed {
            guard let r = byToken[token] else { return fail("a complete returned for token \(token), which no receive returned") }
            if let other = settledBy.updateValue(token, forKey: r.id) {
                return fail("message \(r.id) was completed twice (tokens \(other) and \(token)): it came back after a complete")
            }
        }
        for (id, receipts) in byMessage {
            let ordered = receipts.sorted { $0.deliveryCount < $1.deliveryCount }
            for (a, b) in zip(ordered, ordered.dropFirst()) {
                if a.deliveryCount == b.deliveryCount {
                    return fail("message \(id): delivery \(a.deliveryCount) was granted twice, to broker \(a.broker) (\(a.token)) and broker \(b.broker) (\(b.token))")
                }
                let released = min(a.lockedUntilMs * 1000, abandonIssued[a.token] ?? .max)
                if b.returnedUs < released - clockSlackUs {
                    return fail("""
                        message \(id): broker \(b.broker) received delivery \(b.deliveryCount) at \(b.returnedUs) µs while broker \(a.broker)'s \
                        lock \(a.token) (delivery \(a.deliveryCount)) was live until \(released) µs: two live locks
                        """)
                }
                if settledBy[id] == a.token {
                    return fail("message \(id) was delivered again (delivery \(b.deliveryCount), broker \(b.broker)) after broker \(a.broker)'s complete returned")
                }
            }
        }
        for id in added where settledBy[id] == nil {
            let completedInFlight = byMessage[id, default: []].contains { inFlight.contains($0.token) }
            if !completedInFlight { return fail("message \(id), acknowledged as added, was never completed: lost") }
        }
        for id in settledBy.keys where !intended.contains(id) { return fail("message \(id) was completed but never added") }
        if let id = remaining.first { return fail("\(remaining.count) messages are still stored after the drain (first: \(id))") }
        // The killed broker's locks: held at its death, settled by nobody.
        if let dead = histories[victim] {
            let unsettled = dead.receipts.filter {
                !dead.completed.contains($0.token) && !dead.completeFailed.contains($0.token) && !dead.abandoned.contains($0.token)
                    && dead.completeIssued[$0.token] == nil && dead.abandonIssued[$0.token] == nil
            }
            for r in unsettled {
                let later = byMessage[r.id, default: []].filter { $0.deliveryCount > r.deliveryCount }
                // Its newest delivery is the dead broker's own: the lock was never taken over.
                if later.isEmpty { return fail("message \(r.id), locked by the killed broker, never reached another broker") }
                if !later.contains(where: { $0.broker != victim }) { continue }
                v.orphansRedelivered += 1
            }
            v.orphanedLocks = unsettled.count
        }
        return v
    }
}
