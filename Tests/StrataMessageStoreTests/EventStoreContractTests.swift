import Foundation
import StrataMessageStore
import Testing

/// The `EventStore` contract, run on every backend: the in-memory
/// reference, LSM, SQLite and (with a server) PostgreSQL.
@Suite struct EventStoreContractTests {
    @Test(arguments: EventBackend.all)
    func appendAndLoadKeepEveryFieldInLSNOrder(backend: EventBackend) async throws {
        let f = EventFixture(backend)
        defer { f.cleanup() }
        let store = try await f.open()
        let s = f.stream("doc"), other = f.stream("other")
        let t = Date(timeIntervalSinceReferenceDate: 1_234_567.25)
        let a = try await store.append(Event(stream: s, payload: [1, 2], idempotencyKey: f.key("a"), timestamp: t, metadata: ["actor": "ann", "v": "2"]))
        let b = try await store.append(Event(stream: other, payload: [9], idempotencyKey: f.key("b")))
        let last = try await store.append(contentsOf: (0..<5).map { Event(stream: s, payload: [UInt8($0)], idempotencyKey: f.key("c\($0)")) })
        #expect(a < b && b < last)
        let all = try await store.load(stream: s, after: 0, limit: 100)
        #expect(all.count == 6)
        #expect(all.map(\.lsn) == all.map(\.lsn).sorted() && Set(all.map(\.lsn)).count == 6)
        #expect(all.first?.lsn == a && all.last?.lsn == last)
        #expect(all[0].payload == [1, 2] && all[0].metadata == ["actor": "ann", "v": "2"] && all[0].timestamp == t)
        #expect(all[0].idempotencyKey == f.key("a") && all[0].stream == s)
        #expect(all.map(\.payload).dropFirst() == [[0], [1], [2], [3], [4]])
        for e in all { #expect(e.checksum != 0) }  // the record's CRC32C
        #expect(try await store.load(stream: s, after: all[2].lsn, limit: 2).map(\.lsn) == [all[3].lsn, all[4].lsn])
        #expect(try await store.load(stream: s, after: last, limit: 10).isEmpty)
        #expect(try await store.load(stream: s, after: 0, limit: 0).isEmpty)
        #expect(try await store.load(stream: f.stream("none"), after: 0, limit: 10).isEmpty)
        #expect(try await store.lsn(forIdempotencyKey: f.key("b")) == b)
        #expect(try await store.lsn(forIdempotencyKey: f.key("missing")) == nil)
        try await store.close()
    }

    @Test(arguments: EventBackend.all)
    func returnExistingGivesTheFirstLSNAndStoresNothing(backend: EventBackend) async throws {
        let f = EventFixture(backend)
        defer { f.cleanup() }
        let store = try await f.open(EventStoreOptions(duplicatePolicy: .returnExisting))
        let s = f.stream("s")
        let first = try await store.append(Event(stream: s, payload: [1], idempotencyKey: f.key("k")))
        #expect(try await store.append(Event(stream: s, payload: [2], idempotencyKey: f.key("k"))) == first)
        // In a batch the known key is skipped and the rest is stored.
        let last = try await store.append(contentsOf: [Event(stream: s, payload: [3], idempotencyKey: f.key("k")),
                                                       Event(stream: s, payload: [4], idempotencyKey: f.key("n"))])
        #expect(last > first)
        // A batch ending with a known key returns that key's LSN.
        #expect(try await store.append(contentsOf: [Event(stream: s, payload: [5], idempotencyKey: f.key("m")),
                                                    Event(stream: s, payload: [6], idempotencyKey: f.key("k"))]) == first)
        #expect(try await store.load(stream: s, after: 0, limit: 10).map(\.payload) == [[1], [4], [5]])
        try await store.close()
    }

    @Test(arguments: EventBackend.all)
    func failPolicyThrowsDuplicateKeyWithTheExistingLSN(backend: EventBackend) async throws {
        let f = EventFixture(backend)
        defer { f.cleanup() }
        let store = try await f.open(EventStoreOptions(duplicatePolicy: .fail))
        let s = f.stream("s")
        let first = try await store.append(Event(stream: s, payload: [1], idempotencyKey: f.key("k")))
        let error = await #expect(throws: MessageStoreError.self) { try await store.append(Event(stream: s, payload: [2], idempotencyKey: f.key("k"))) }
        #expect(error?.kind == .duplicateKey && error?.existingLSN == first)
        // One known key fails the whole batch: nothing of it is stored.
        let batchError = await #expect(throws: MessageStoreError.self) {
            try await store.append(contentsOf: [Event(stream: s, payload: [3], idempotencyKey: f.key("new")),
                                                Event(stream: s, payload: [4], idempotencyKey: f.key("k"))])
        }
        #expect(batchError?.kind == .duplicateKey && batchError?.existingLSN == first)
        #expect(try await store.lsn(forIdempotencyKey: f.key("new")) == nil)
        #expect(try await store.load(stream: s, after: 0, limit: 10).map(\.payload) == [[1]])
        try await store.close()
    }

    @Test(arguments: EventBackend.all)
    func badInputIsAClearError(backend: EventBackend) async throws {
        let f = EventFixture(backend)
        defer { f.cleanup() }
        let store = try await f.open()
        let s = f.stream("s")
        for bad in [[], [Event(stream: "", payload: [])], [Event(stream: s, payload: [], idempotencyKey: "")],
                    [Event(stream: s, payload: [], idempotencyKey: f.key("x")), Event(stream: s, payload: [], idempotencyKey: f.key("x"))],
                    [Event(stream: String(repeating: "a", count: 60_001), payload: [])]] {
            let e = await #expect(throws: MessageStoreError.self) { try await store.append(contentsOf: bad) }
            #expect(e?.kind == .invalidArgument)
        }
        let e = await #expect(throws: MessageStoreError.self) { try await store.writeSnapshot(EventSnapshot(stream: s, uptoLSN: -1, state: [])) }
        #expect(e?.kind == .invalidArgument)
        #expect(try await store.load(stream: s, after: 0, limit: 10).isEmpty)
        try await store.close()
    }

    @Test(arguments: EventBackend.all)
    func snapshotsAndCompactionKeepWhatTheSnapshotDoesNotCover(backend: EventBackend) async throws {
        let f = EventFixture(backend)
        defer { f.cleanup() }
        let store = try await f.open()
        let s = f.stream("s"), o = f.stream("o")
        var lsns: [Int64] = []
        for i in 0..<6 { lsns.append(try await store.append(Event(stream: s, payload: [UInt8(i)], idempotencyKey: f.key("e\(i)")))) }
        let kept = try await store.append(Event(stream: o, payload: [7], idempotencyKey: f.key("o")))
        #expect(try await store.latestSnapshot(stream: s) == nil)
        try await store.compact(stream: s)  // no snapshot: nothing to do
        #expect(try await store.load(stream: s, after: 0, limit: 10).count == 6)
        let created = Date(timeIntervalSinceReferenceDate: 99.5)
        try await store.writeSnapshot(EventSnapshot(stream: s, uptoLSN: lsns[1], state: [0xaa], createdAt: created))
        try await store.writeSnapshot(EventSnapshot(stream: s, uptoLSN: lsns[3], state: [0xbb], version: 2, createdAt: created))
        try await store.writeSnapshot(EventSnapshot(stream: s, uptoLSN: lsns[3], state: [0xcc], version: 3, createdAt: created))  // replaces
        let latest = try #require(try await store.latestSnapshot(stream: s))
        #expect(latest == EventSnapshot(stream: s, uptoLSN: lsns[3], state: [0xcc], version: 3, createdAt: created))
        try await store.compact(stream: s)
        #expect(try await store.load(stream: s, after: 0, limit: 10).map(\.lsn) == [lsns[4], lsns[5]])
        #expect(try await store.load(stream: o, after: 0, limit: 10).map(\.lsn) == [kept])
        #expect(try await store.latestSnapshot(stream: s)?.state == [0xcc])
        // Keys outlive compaction: a retry of a compacted event gets its LSN.
        #expect(try await store.lsn(forIdempotencyKey: f.key("e0")) == lsns[0])
        #expect(try await store.append(Event(stream: s, payload: [], idempotencyKey: f.key("e0"))) == lsns[0])
        // New LSNs keep growing after compaction.
        #expect(try await store.append(Event(stream: s, payload: [], idempotencyKey: f.key("later"))) > kept)
        try await store.close()
    }

    @Test(arguments: EventBackend.all)
    func largePayloadsAndStatesAreCompressedAndReadableUnderEverySetting(backend: EventBackend) async throws {
        let f = EventFixture(backend)
        defer { f.cleanup() }
        let s = f.stream("s")
        let big = [UInt8]((0..<20_000).map { UInt8(truncatingIfNeeded: $0 / 64) })
        var store = try await f.open(EventStoreOptions(compression: .lz4(threshold: 100)))
        let small = try await store.append(Event(stream: s, payload: [1, 2, 3], idempotencyKey: f.key("small")))
        let large = try await store.append(Event(stream: s, payload: big, idempotencyKey: f.key("large")))
        try await store.writeSnapshot(EventSnapshot(stream: s, uptoLSN: large, state: big))
        let record = try #require(try await store.storedRecord(stream: s, lsn: large))
        #expect(record[1] == 1 && record.count < big.count / 4)  // LZ4 recorded, and it saved space
        #expect(try await store.storedRecord(stream: s, lsn: small)?[1] == 0)  // under the threshold
        #expect(store.metrics().compressionRatio > 2)
        if backend != .memory {
            // Records written with LZ4 stay readable by a store set to none, and the other way round.
            try await store.close()
            store = try await f.open(EventStoreOptions(compression: .none))
            let plain = try await store.append(Event(stream: s, payload: big, idempotencyKey: f.key("plain")))
            #expect(try await store.storedRecord(stream: s, lsn: plain)?[1] == 0)
            try await store.close()
            store = try await f.open(EventStoreOptions(compression: .lz4(threshold: 100)))
        }
        let loaded = try await store.load(stream: s, after: 0, limit: 10)
        #expect(loaded.first?.payload == [1, 2, 3] && loaded[1].payload == big)
        #expect(loaded.dropFirst(2).allSatisfy { $0.payload == big })
        #expect(try await store.latestSnapshot(stream: s)?.state == big)
        try await store.close()
    }

    @Test(arguments: EventBackend.all)
    func aFlippedByteAnywhereInARecordIsCorruptionNamingStreamAndLSN(backend: EventBackend) async throws {
        let f = EventFixture(backend)
        defer { f.cleanup() }
        let store = try await f.open(EventStoreOptions(compression: .lz4(threshold: 64)))
        let s = f.stream("s")
        let payloads: [[UInt8]] = [[1, 2, 3], [UInt8](repeating: 7, count: 300)]  // stored plain and LZ4
        for (i, p) in payloads.enumerated() {
            let lsn = try await store.append(Event(stream: s, payload: p, idempotencyKey: f.key("e\(i)"), metadata: ["actor": "ann"]))
            let good = try #require(try await store.storedRecord(stream: s, lsn: lsn))
            for at in good.indices {
                var bad = good
                bad[at] ^= 0x20
                try await store.replaceStoredRecord(stream: s, lsn: lsn, with: bad)
                let e = await #expect(throws: MessageStoreError.self, "byte \(at) of \(good.count)") {
                    try await store.load(stream: s, after: lsn - 1, limit: 1)
                }
                #expect(e?.kind == .corruption)
                #expect(e?.message.contains("event \(lsn) of stream \(s)") == true, "\(e?.message ?? "")")
            }
            try await store.replaceStoredRecord(stream: s, lsn: lsn, with: Array(good.dropLast()))
            await #expect(throws: MessageStoreError.self) { try await store.load(stream: s, after: lsn - 1, limit: 1) }
            try await store.replaceStoredRecord(stream: s, lsn: lsn, with: good)
            #expect(try await store.load(stream: s, after: lsn - 1, limit: 1).first?.payload == p)
        }
        try await store.close()
    }

    @Test(arguments: EventBackend.all)
    func concurrentAppendsOfOneKeyStoreOneEventAndShareItsLSN(backend: EventBackend) async throws {
        let f = EventFixture(backend)
        defer { f.cleanup() }
        let store = try await f.open(EventStoreOptions(commitMode: .memoryOnly))
        for round in 0..<(backend == .postgres ? 5 : 20) {
            let s = f.stream("r\(round)"), shared = f.key("shared\(round)")
            let got = Collected<Int64>()
            try await withThrowingTaskGroup(of: Void.self) { g in
                for task in 0..<10 {
                    g.addTask {
                        if task % 2 == 0 {
                            got.add(try await store.append(Event(stream: s, payload: [UInt8(task)], idempotencyKey: shared)))
                        } else {
                            let others = (0..<30).map { Event(stream: s, payload: [], idempotencyKey: "\(shared)-\(task)-\($0)") }
                            _ = try await store.append(contentsOf: [Event(stream: s, payload: [UInt8(task)], idempotencyKey: shared)] + others)
                        }
                    }
                }
                try await g.waitForAll()
            }
            let stored = try await store.load(stream: s, after: 0, limit: 1000).filter { $0.idempotencyKey == shared }
            #expect(stored.count == 1, "round \(round): stored \(stored.count) times")
            let lsn = try #require(stored.first?.lsn)
            #expect(Set(got.all) == [lsn])
            #expect(try await store.lsn(forIdempotencyKey: shared) == lsn)
        }
        try await store.close()
    }

    @Test(arguments: EventBackend.all)
    func liveSubscriptionDeliversStoredThenNewEventsGapFreeAndEndsOnCancel(backend: EventBackend) async throws {
        let f = EventFixture(backend)
        defer { f.cleanup() }
        let store = try await f.open(EventStoreOptions(commitMode: .memoryOnly))
        let s = f.stream("s")
        var before: [Int64] = []
        for i in 0..<10 { before.append(try await store.append(Event(stream: s, payload: [UInt8(i)], idempotencyKey: f.key("pre\(i)")))) }
        let writers = 4, perWriter = 40, total = 10 + writers * perWriter - 3
        let subscription = store.events(stream: s, after: before[2])
        let reader = Task { () throws -> [Int64] in
            var seen: [Int64] = []
            for try await e in subscription {
                seen.append(e.lsn)
                if seen.count == total { break }
            }
            return seen
        }
        try await withThrowingTaskGroup(of: Void.self) { g in
            for w in 0..<writers {
                g.addTask {
                    for i in 0..<perWriter {
                        if i % 4 == 0 {
                            _ = try await store.append(contentsOf: [Event(stream: s, payload: [1], idempotencyKey: f.key("w\(w)-\(i)a")),
                                                                    Event(stream: f.stream("noise"), payload: [2], idempotencyKey: f.key("w\(w)-\(i)n")),
                                                                    Event(stream: s, payload: [3], idempotencyKey: f.key("w\(w)-\(i)b"))])
                        } else if i % 4 != 1 {
                            _ = try await store.append(Event(stream: s, payload: [UInt8(i)], idempotencyKey: f.key("w\(w)-\(i)")))
                        }
                    }
                }
            }
            try await g.waitForAll()
        }
        let seen = try await reader.value
        let stored = try await store.load(stream: s, after: before[2], limit: 10_000).map(\.lsn)
        #expect(stored.count == total)
        #expect(seen == stored)  // every event once, in LSN order, none skipped
        // A caught-up subscription waits; cancelling its task ends it.
        let waiting = Task { () throws -> Int in
            var n = 0
            for try await _ in store.events(stream: s, after: stored.last!) { n += 1 }
            return n
        }
        try await Task.sleep(for: .milliseconds(20))
        waiting.cancel()
        #expect(try await waiting.value == 0)
        try await store.close()
    }

    @Test(arguments: EventBackend.all)
    func recoveryReplaysAfterTheLatestSnapshotInBatches(backend: EventBackend) async throws {
        let f = EventFixture(backend)
        defer { f.cleanup() }
        let store = try await f.open()
        let s = f.stream("counter")
        var lsns: [Int64] = []
        for i in 1...25 { lsns.append(try await store.append(Event(stream: s, payload: [UInt8(i)], idempotencyKey: f.key("e\(i)")))) }
        // State = sum of payloads; the snapshot holds the sum of the first 20.
        try await store.writeSnapshot(EventSnapshot(stream: s, uptoLSN: lsns[19], state: [UInt8((1...20).reduce(0, +))]))
        var sum = 0, batches = 0
        let r = try await store.recover(stream: s, batchSize: 2, restore: { sum = Int($0.state[0]) }, apply: { events in
            batches += 1
            sum += events.reduce(0) { $0 + Int($1.payload[0]) }
        })
        #expect(sum == (1...25).reduce(0, +))
        #expect(r.snapshotLSN == lsns[19] && r.eventsReplayed == 5 && r.lastLSN == lsns[24] && batches == 3)
        #expect(store.metrics().lastRecoveryTime == r.duration)
        // Without a snapshot: every event.
        var n = 0
        let all = try await store.recover(stream: f.stream("none"), restore: { _ in Issue.record("no snapshot expected") }, apply: { n += $0.count })
        #expect(all.snapshotLSN == nil && all.eventsReplayed == 0 && n == 0)
        try await store.close()
    }

    @Test(arguments: EventBackend.all)
    func metricsCountWhatWasStoredAndHealthReportsAClosedStore(backend: EventBackend) async throws {
        let f = EventFixture(backend)
        defer { f.cleanup() }
        let store = try await f.open(EventStoreOptions(compression: .none))
        let s = f.stream("s")
        _ = try await store.append(contentsOf: [Event(stream: s, payload: [1, 2], idempotencyKey: f.key("a")),
                                                Event(stream: s, payload: [3, 4, 5, 6], idempotencyKey: f.key("b"))])
        _ = try await store.append(Event(stream: s, payload: [], idempotencyKey: f.key("a")))  // known: not counted
        try await store.writeSnapshot(EventSnapshot(stream: s, uptoLSN: 1, state: [UInt8](repeating: 1, count: 10)))
        let m = store.metrics()
        #expect(m.totalEvents == 2 && m.totalSnapshots == 1)
        #expect(m.averageEventBytes == 3 && m.averageSnapshotBytes == 10)
        #expect(m.compressionRatio == 1)  // no compression
        #expect(m.maxAppendLatency >= m.averageAppendLatency && m.maxAppendLatency > .zero)
        #expect(m.lastRecoveryTime == nil)
        #expect(await store.health().status == .healthy)
        try await store.close()
        let h = await store.health()
        #expect(h.status == .critical && !h.reasons.isEmpty)
        let e = await #expect(throws: MessageStoreError.self) { try await store.load(stream: s, after: 0, limit: 1) }
        #expect(e?.kind == .closed)
        await #expect(throws: MessageStoreError.self) { try await store.append(Event(stream: s, payload: [])) }
    }

    @Test(arguments: EventBackend.durable)
    func eventsKeysAndSnapshotsSurviveAReopenAndLSNsKeepGrowing(backend: EventBackend) async throws {
        let f = EventFixture(backend)
        defer { f.cleanup() }
        var store = try await f.open()
        let s = f.stream("s")
        let first = try await store.append(Event(stream: s, payload: [1], idempotencyKey: f.key("a")))
        let last = try await store.append(contentsOf: (0..<3).map { Event(stream: s, payload: [UInt8($0)], idempotencyKey: f.key("b\($0)")) })
        try await store.writeSnapshot(EventSnapshot(stream: s, uptoLSN: last, state: [5]))
        try await store.compact(stream: s)  // every event covered: the LSN counter must not fall back
        try await store.close()
        store = try await f.open()
        #expect(try await store.latestSnapshot(stream: s)?.uptoLSN == last)
        #expect(try await store.append(Event(stream: s, payload: [9], idempotencyKey: f.key("a"))) == first)
        let next = try await store.append(Event(stream: s, payload: [9], idempotencyKey: f.key("c")))
        #expect(next > last)
        #expect(try await store.load(stream: s, after: 0, limit: 10).map(\.lsn) == [next])
        try await store.close()
    }
}
