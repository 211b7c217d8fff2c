import Foundation
import StrataMessageStore

extension MessageStoreStress {
    /// The child process of the loop (`strata stress-messages-child
    /// --store=PATH --journal=DIR --seed=N --cycle=N`): runs the broker
    /// workload until it is killed. Returns a process exit status: non-zero
    /// (with a line on stderr) when the store failed a call it should not
    /// have, which the parent reports.
    public static func childMain(_ arguments: [String]) async -> Int32 {
        var flags: [String: String] = [:]
        for a in arguments where a.hasPrefix("--") {
            let parts = a.dropFirst(2).split(separator: "=", maxSplits: 1).map(String.init)
            flags[parts[0]] = parts.count > 1 ? parts[1] : "true"
        }
        guard let store = flags["store"], let journal = flags["journal"] else {
            FileHandle.standardError.write(Data("stress-messages-child: --store and --journal are required\n".utf8))
            return 2
        }
        do {
            try await runChild(store: store, journal: journal, seed: flags["seed"].flatMap { UInt64($0) } ?? 1,
                               cycle: flags["cycle"].flatMap { Int($0) } ?? 0)
            return 0
        } catch {
            FileHandle.standardError.write(Data("stress-messages-child: \(error)\n".utf8))
            return 3
        }
    }

    static func runChild(store path: String, journal: String, seed: UInt64, cycle: Int) async throws {
        let store = try await LSMMessageStore.open(at: path, options: storeOptions())
        let sabotage = ProcessInfo.processInfo.environment["STRATA_STRESS_SABOTAGE"] == "ack-before-add"
        // Long enough that nothing is dead-lettered: every message stays in the queue.
        if try await store.queues().isEmpty {
            try await store.createQueue(queue, settings: QueueSettings(lockDuration: .seconds(1), maxDeliveryCount: 1 << 20))
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for p in 0..<4 {
                group.addTask {
                    let j = MessageStoreJournal(path: journal + "/producer-\(p)")
                    var rng = (seed &* 0x9E37_79B9_7F4A_7C15) ^ UInt64(p + 1)
                    var n = 0
                    while true {
                        rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17
                        n += 1
                        let base = "c\(cycle)p\(p)n\(n)"
                        let ids = rng % 2 == 0 ? [base] : (0..<5).map { "\(base)b\($0)" }
                        let messages = ids.map { Message(id: $0, queue: queue, payload: Array($0.utf8)) }
                        j.record("I", ids)
                        // The check's own check: journaling the acknowledgement
                        // before the add must make the loop report a lost message.
                        if sabotage { j.record("A", ids) }
                        if messages.count == 1 { try await store.add(messages[0]) } else { try await store.add(contentsOf: messages) }
                        j.record("A", ids)
                        // Keeps the producers near the consumers' pace, so the
                        // backlog (and the parent's check) stays bounded over
                        // thousands of cycles.
                        try await Task.sleep(for: .milliseconds(4))
                    }
                }
            }
            for c in 0..<3 {
                group.addTask {
                    let j = MessageStoreJournal(path: journal + "/consumer-\(c)")
                    var batches = 0
                    while true {
                        let got = try await store.receive(queue: queue, limit: 8, lockDuration: .seconds(1), maxWait: .milliseconds(200))
                        if got.isEmpty { continue }
                        let ids = got.map(\.message.id)
                        j.record("R", ids)
                        batches += 1
                        if batches % 4 == 0 {
                            j.record("U?", ids)
                            var done: [String] = []
                            for r in got {
                                do {
                                    try await store.abandon(r.lockToken)
                                    done.append(r.message.id)
                                } catch let e as MessageStoreError where e.kind == .lockLost {}
                            }
                            j.record("U", done)
                        } else {
                            j.record("C?", ids)
                            do {
                                try await store.complete(got.map(\.lockToken))
                                j.record("C", ids)
                            } catch let e as MessageStoreError where e.kind == .lockLost {
                                j.record("F", ids)  // none of the batch was applied
                            }
                        }
                    }
                }
            }
            try await group.next()
        }
    }
}
