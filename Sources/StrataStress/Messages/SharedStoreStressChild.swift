import Foundation
import StrataMessageStore
import Synchronization

extension SharedStoreStress {
    /// What one broker process runs (`strata stress-brokers-child`).
    public struct ChildSettings: Sendable {
        public var store: String
        public var tablePrefix: String
        public var queue: String
        public var journal: String
        public var broker: Int
        public var messages: Int
        public var seed: UInt64
        /// The broker stops when this file exists.
        public var stopFile: String
        /// This broker's first consumer stops settling after a few batches
        /// and holds its locks until the process is killed.
        public var stall: Bool

        public init(store: String, tablePrefix: String, queue: String, journal: String, broker: Int, messages: Int,
                    seed: UInt64, stopFile: String, stall: Bool) {
            self.store = store
            self.tablePrefix = tablePrefix
            self.queue = queue
            self.journal = journal
            self.broker = broker
            self.messages = messages
            self.seed = seed
            self.stopFile = stopFile
            self.stall = stall
        }
    }

    /// The broker process: opens the store through
    /// `MessageStoreConfiguration(url:).open()`, runs two producers (adding
    /// `messages` between them, single adds and batches of three) and two
    /// competing consumers (receive four, work a few milliseconds, complete
    /// four batches in five and abandon the fifth) until the stop file
    /// appears, journaling every call before it is issued and after it
    /// returns. Returns the exit status: non-zero, with a line on stderr,
    /// when the store failed a call it should not have.
    public static func childMain(_ s: ChildSettings) async -> Int32 {
        do {
            try await runChild(s)
            return 0
        } catch {
            FileHandle.standardError.write(Data("stress-brokers-child \(s.broker): \(error)\n".utf8))
            return 3
        }
    }

    static func openStore(_ url: String, tablePrefix: String) async throws -> any MessageStore {
        var c = try MessageStoreConfiguration(url: url)
        c.postgresTablePrefix = tablePrefix
        c.postgresPoolSize = 4
        return try await c.open()
    }

    static func runChild(_ s: ChildSettings) async throws {
        let store = try await openStore(s.store, tablePrefix: s.tablePrefix)
        let queue = s.queue
        // The check's own check: journaling every lock as ending a minute
        // late must make the parent report two live locks.
        let lateLockEnd: Int64 = ProcessInfo.processInfo.environment["STRATA_STRESS_SABOTAGE"] == "late-lock-end" ? 60_000 : 0
        // Set when consumer 0 hangs: the whole broker hangs then. Were the
        // other consumer to go on, it could receive the hung batch itself
        // once its locks expired (a parent slow to kill, on a loaded
        // machine) and the kill would test no expiry to another broker.
        let hung = HungFlag()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for p in 0..<2 {
                group.addTask {
                    let j = MessageStoreJournal(path: s.journal + "/producer-\(p)")
                    var rng = (s.seed &* 0x9E37_79B9_7F4A_7C15) ^ UInt64(s.broker * 8 + p + 1)
                    var left = s.messages / 2 + (p == 0 ? s.messages % 2 : 0)
                    var n = 0
                    while left > 0 {
                        rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17
                        n += 1
                        let base = "\(queue)b\(s.broker)p\(p)n\(n)"
                        let ids = rng % 3 == 0 && left >= 3 ? (0..<3).map { "\(base)x\($0)" } : [base]
                        let messages = ids.map { Message(id: $0, queue: queue, payload: Array($0.utf8)) }
                        j.record("I", [String(SharedStoreHistory.nowUs())] + ids)
                        if messages.count == 1 { try await store.add(messages[0]) } else { try await store.add(contentsOf: messages) }
                        j.record("A", [String(SharedStoreHistory.nowUs())] + ids)
                        left -= ids.count
                        // Spreads the adds over the consumers' run.
                        try await Task.sleep(for: .milliseconds(Int(rng % 8)))
                    }
                    j.record("P", [String(SharedStoreHistory.nowUs())])
                }
            }
            for c in 0..<2 {
                group.addTask {
                    let j = MessageStoreJournal(path: s.journal + "/consumer-\(c)")
                    var rng = (s.seed &* 0xD1B5_4A32_D192_ED03) ^ UInt64(s.broker * 8 + c + 1)
                    var batches = 0
                    while !FileManager.default.fileExists(atPath: s.stopFile) {
                        if hung.value.load(ordering: .acquiring) { while true { try await Task.sleep(for: .seconds(3600)) } }
                        let issued = SharedStoreHistory.nowUs()
                        let got = try await store.receive(queue: queue, limit: 4, lockDuration: nil, maxWait: .milliseconds(200))
                        if got.isEmpty { continue }
                        let returned = SharedStoreHistory.nowUs()
                        j.record("R", [String(issued), String(returned)] + got.map {
                            "\($0.message.id)|\($0.message.deliveryCount)|\($0.lockToken.id)|\(Int64(($0.lockedUntil.timeIntervalSince1970 * 1000).rounded()) + lateLockEnd)"
                        })
                        for r in got where r.message.payload != Array(r.message.id.utf8) {
                            throw MessageStoreError(.corruption, "message \(r.message.id) arrived with another message's payload")
                        }
                        batches += 1
                        if s.stall && c == 0 && batches == 2 { hung.value.store(true, ordering: .releasing) }
                        if hung.value.load(ordering: .acquiring) {
                            // A broker that hangs while it holds locks: only
                            // their expiry frees the messages once it is killed.
                            j.record("S", [String(SharedStoreHistory.nowUs())])
                            while true { try await Task.sleep(for: .seconds(3600)) }
                        }
                        rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17
                        try await Task.sleep(for: .milliseconds(Int(rng % 15)))
                        let tokens = got.map { $0.lockToken.id.uuidString }
                        if batches % 5 == 0 {
                            for (r, token) in zip(got, tokens) {
                                j.record("U?", [String(SharedStoreHistory.nowUs()), token])
                                do {
                                    try await store.abandon(r.lockToken)
                                    j.record("U", [String(SharedStoreHistory.nowUs()), token])
                                } catch let e as MessageStoreError where e.kind == .lockLost {
                                    j.record("UF", [String(SharedStoreHistory.nowUs()), token])
                                }
                            }
                        } else {
                            j.record("C?", [String(SharedStoreHistory.nowUs())] + tokens)
                            do {
                                try await store.complete(got.map(\.lockToken))
                                j.record("C", [String(SharedStoreHistory.nowUs())] + tokens)
                            } catch let e as MessageStoreError where e.kind == .lockLost {
                                j.record("F", [String(SharedStoreHistory.nowUs())] + tokens)
                            }
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        try await store.close()
    }
}

/// Whether a broker's consumers hang (`--stall`), shared by its tasks.
private final class HungFlag: Sendable {
    let value = Atomic<Bool>(false)
}
