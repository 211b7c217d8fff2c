import Foundation
import Strata
import StrataMessageStore
import Testing

/// A clock tests move by hand.
final class ManualClock: Sendable {
    private let time: StoreLock<Date>
    /// Standing at `start` until advanced.
    init(start: Date = Date(timeIntervalSince1970: 1_800_000_000)) { time = StoreLock(start) }
    var clock: MessageClock { MessageClock { [self] in time.withLock { $0 } } }
    func advance(_ d: Duration) { time.withLock { $0 = $0.addingTimeInterval(Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18) } }
    var now: Date { time.withLock { $0 } }
}

/// Deliveries seen by competing consumers.
final class DeliveryLog: Sendable {
    private let log = StoreLock<[String: Int]>([:])
    func record(_ ids: [String]) { log.withLock { for id in ids { $0[id, default: 0] += 1 } } }
    var counts: [String: Int] { log.withLock { $0 } }
}

/// A store under test that can be restarted (closed and reopened; the
/// in-memory store keeps its state, it has nothing to reopen).
final class Harness: @unchecked Sendable {
    let backend: Backend
    let dir: String
    let manual = ManualClock()
    var store: any MessageStore

    init(_ backend: Backend) async throws {
        self.backend = backend
        dir = temporaryDirectory()
        store = try await backend.make(dir, clock: manual.clock)
    }

    func restart() async throws {
        guard backend != .memory else { return }
        try await store.close()
        store = try await backend.make(dir, clock: manual.clock)
    }

    func finish() async throws {
        try await store.close()
        try? FileManager.default.removeItem(atPath: dir)
    }

    func message(_ id: String, _ queue: String = "q", payload: [UInt8] = [1, 2, 3], headers: [String: String] = [:],
                 scheduledIn: Duration? = nil, expiresIn: Duration? = nil) -> Message {
        let now = manual.now
        func plus(_ d: Duration) -> Date { now.addingTimeInterval(Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18) }
        return Message(id: id, queue: queue, payload: payload, timestamp: now, headers: headers,
                       scheduledAt: scheduledIn.map(plus), expiresAt: expiresIn.map(plus))
    }
}

@Suite struct BrokerSemanticsTests {
    @Test(arguments: Backend.allCases)
    func peekLockHidesMessageUntilCompleteOrExpiry(backend: Backend) async throws {
        let h = try await Harness(backend)
        try await h.store.createQueue("q", settings: QueueSettings(lockDuration: .seconds(10)))
        try await h.store.add(contentsOf: [h.message("a"), h.message("b")])
        let first = try await h.store.receive(queue: "q", limit: 1)
        #expect(first.map(\.message.id) == ["a"])
        #expect(first[0].message.deliveryCount == 1)
        // A competing receiver gets the next one, not the locked one.
        #expect(try await h.store.receive(queue: "q", limit: 5).map(\.message.id) == ["b"])
        #expect(try await h.store.receive(queue: "q", limit: 5).isEmpty)
        try await h.restart()
        h.manual.advance(.seconds(11))
        // Both locks expired: redelivered with deliveryCount + 1; the old token is dead.
        let again = try await h.store.receive(queue: "q", limit: 5)
        #expect(again.map(\.message.id) == ["a", "b"])
        #expect(again.map(\.message.deliveryCount) == [2, 2])
        await #expect(throws: MessageStoreError.self) { try await h.store.complete(first[0].lockToken) }
        try await h.store.complete(again.map(\.lockToken))
        #expect(try await h.store.get(id: "a") == nil)
        #expect(try await h.store.pending(queue: "q", limit: 10).isEmpty)
        try await h.finish()
    }

    @Test(arguments: Backend.allCases)
    func abandonRedeliversAndMaxDeliveryDeadLetters(backend: Backend) async throws {
        let h = try await Harness(backend)
        try await h.store.createQueue("q", settings: QueueSettings(maxDeliveryCount: 2))
        try await h.store.add(h.message("m"))
        let r1 = try await h.store.receive(queue: "q", limit: 1)
        try await h.store.abandon(r1[0].lockToken)
        await #expect(throws: MessageStoreError.self) { try await h.store.abandon(r1[0].lockToken) }
        try await h.restart()
        let r2 = try await h.store.receive(queue: "q", limit: 1)
        #expect(r2.first?.message.deliveryCount == 2)
        try await h.store.abandon(r2[0].lockToken)  // second delivery used up: dead-lettered
        #expect(try await h.store.receive(queue: "q", limit: 1).isEmpty)
        let dlq = EntityPath.deadLetterQueue(of: "q")
        let dead = try await h.store.receive(queue: dlq, limit: 5)
        #expect(dead.map(\.message.id) == ["m"])
        #expect(dead.first?.message.headers[deadLetterReasonHeader] == "MaxDeliveryCountExceeded")
        #expect(try await h.store.statistics(queue: "q").deadLettered == 1)
        try await h.store.complete(dead[0].lockToken)
        #expect(try await h.store.statistics(queue: "q").deadLettered == 0)
        try await h.finish()
    }

    @Test(arguments: Backend.allCases)
    func expiredLockAtMaxDeliveryGoesToDeadLetterOnNextReceive(backend: Backend) async throws {
        let h = try await Harness(backend)
        try await h.store.createQueue("q", settings: QueueSettings(lockDuration: .seconds(1), maxDeliveryCount: 1))
        try await h.store.add(contentsOf: [h.message("x"), h.message("y")])
        _ = try await h.store.receive(queue: "q", limit: 1)
        h.manual.advance(.seconds(2))
        try await h.restart()
        let next = try await h.store.receive(queue: "q", limit: 1)
        #expect(next.map(\.message.id) == ["y"])
        #expect(try await h.store.pending(queue: EntityPath.deadLetterQueue(of: "q"), limit: 5).map(\.id) == ["x"])
        try await h.finish()
    }

    @Test(arguments: Backend.allCases)
    func explicitDeadLetterAndRenew(backend: Backend) async throws {
        let h = try await Harness(backend)
        try await h.store.createQueue("q", settings: QueueSettings(lockDuration: .seconds(10)))
        try await h.store.add(contentsOf: [h.message("a"), h.message("b")])
        let got = try await h.store.receive(queue: "q", limit: 2)
        h.manual.advance(.seconds(8))
        let until = try await h.store.renewLock(got[0].lockToken)
        #expect(until > h.manual.now.addingTimeInterval(9))
        h.manual.advance(.seconds(5))  // a's renewed lock holds, b's has expired
        try await h.store.deadLetter(got[0].lockToken, reason: "poison")
        await #expect(throws: MessageStoreError.self) { try await h.store.renewLock(got[1].lockToken) }
        let dead = try await h.store.pending(queue: EntityPath.deadLetterQueue(of: "q"), limit: 5)
        #expect(dead.map(\.id) == ["a"])
        #expect(dead.first?.headers[deadLetterReasonHeader] == "poison")
        #expect(try await h.store.receive(queue: "q", limit: 5).map(\.message.id) == ["b"])
        try await h.finish()
    }

    @Test(arguments: Backend.allCases)
    func scheduledMessagesStayInvisibleUntilDue(backend: Backend) async throws {
        let h = try await Harness(backend)
        try await h.store.add(h.message("later", scheduledIn: .seconds(60)))
        try await h.store.add(h.message("now"))
        let now = try await h.store.receive(queue: "q", limit: 5)
        #expect(now.map(\.message.id) == ["now"])
        var st = try await h.store.statistics(queue: "q")
        #expect(st.scheduled == 1 && st.locked == 1 && st.active == 0)
        try await h.restart()
        h.manual.advance(.seconds(29))
        try await h.store.complete(now[0].lockToken)
        #expect(try await h.store.receive(queue: "q", limit: 5).isEmpty)
        h.manual.advance(.seconds(32))
        #expect(try await h.store.receive(queue: "q", limit: 5).map(\.message.id) == ["later"])
        st = try await h.store.statistics(queue: "q")
        #expect(st.scheduled == 0)
        try await h.finish()
    }

    @Test(arguments: Backend.allCases)
    func expiredMessagesAreDroppedOrDeadLettered(backend: Backend) async throws {
        let h = try await Harness(backend)
        try await h.store.createQueue("drop", settings: QueueSettings(defaultTimeToLive: .seconds(5)))
        try await h.store.createQueue("keep", settings: QueueSettings(deadLetterOnExpiration: true))
        try await h.store.add(contentsOf: [h.message("d1", "drop"), h.message("k1", "keep", expiresIn: .seconds(5)),
                                           h.message("k2", "keep")])
        #expect(try await h.store.get(id: "d1")?.expiresAt != nil)
        h.manual.advance(.seconds(6))
        try await h.restart()
        #expect(try await h.store.receive(queue: "drop", limit: 5).isEmpty)
        #expect(try await h.store.get(id: "d1") == nil)
        #expect(try await h.store.receive(queue: "keep", limit: 5).map(\.message.id) == ["k2"])
        let dead = try await h.store.pending(queue: EntityPath.deadLetterQueue(of: "keep"), limit: 5)
        #expect(dead.map(\.id) == ["k1"])
        #expect(dead.first?.headers[deadLetterReasonHeader] == "TTLExpiredException")
        try await h.finish()
    }

    @Test(arguments: Backend.allCases)
    func duplicateWindowOutlivesTheAck(backend: Backend) async throws {
        let h = try await Harness(backend)
        try await h.store.createQueue("q", settings: QueueSettings(duplicateDetectionWindow: .seconds(60)))
        try await h.store.createQueue("plain", settings: QueueSettings())
        try await h.store.add(h.message("m"))
        try await h.store.add(h.message("p", "plain"))
        let r = try await h.store.receive(queue: "q", limit: 1)
        try await h.store.complete(r[0].lockToken)
        try await h.store.remove(id: "p")
        try await h.restart()
        await #expect(throws: MessageStoreError.self) { try await h.store.add(h.message("m")) }
        try await h.store.add(h.message("p", "plain"))  // no window: the id is free again after the ack
        h.manual.advance(.seconds(61))
        try await h.store.compact()
        try await h.store.add(h.message("m"))
        #expect(try await h.store.pending(queue: "q", limit: 5).map(\.id) == ["m"])
        try await h.finish()
    }

    @Test(arguments: Backend.allCases)
    func topicsFanOutThroughFilters(backend: Backend) async throws {
        let h = try await Harness(backend)
        try await h.store.createTopic("orders")
        try await h.store.createSubscription("all", topic: "orders", settings: QueueSettings(), filter: SubscriptionFilter())
        try await h.store.createSubscription("eu", topic: "orders", settings: QueueSettings(),
                                             filter: SubscriptionFilter(headers: ["region": "eu"]))
        try await h.restart()
        #expect(try await h.store.topics() == ["orders"])
        #expect(try await h.store.subscriptions(topic: "orders").map(\.name) == ["all", "eu"])
        #expect(try await h.store.publish(h.message("o1", headers: ["region": "eu"]), topic: "orders") == 2)
        #expect(try await h.store.publish(h.message("o2", headers: ["region": "us"]), topic: "orders") == 1)
        await #expect(throws: MessageStoreError.self) { try await h.store.publish(h.message("x"), topic: "nope") }
        let all = EntityPath.subscriptionQueue(topic: "orders", subscription: "all")
        let eu = EntityPath.subscriptionQueue(topic: "orders", subscription: "eu")
        #expect(try await h.store.pending(queue: all, limit: 5).map(\.id) == ["o1/all", "o2/all"])
        let got = try await h.store.receive(queue: eu, limit: 5)
        #expect(got.map(\.message.id) == ["o1/eu"])
        try await h.store.complete(got[0].lockToken)
        try await h.store.deleteSubscription("all", topic: "orders")
        #expect(try await h.store.pending(queue: all, limit: 5).isEmpty)
        try await h.store.deleteTopic("orders")
        #expect(try await h.store.topics().isEmpty)
        try await h.finish()
    }

    @Test(arguments: Backend.allCases)
    func entitiesPersistAndPurgeEmptiesAQueue(backend: Backend) async throws {
        let h = try await Harness(backend)
        let settings = QueueSettings(lockDuration: .seconds(5), maxDeliveryCount: 3, duplicateDetectionWindow: .seconds(9))
        try await h.store.createQueue("a", settings: settings)
        try await h.store.add(contentsOf: (0..<20).map { h.message("m\($0)", "b") })  // b created implicitly
        _ = try await h.store.receive(queue: "b", limit: 3)
        try await h.restart()
        #expect(try await h.store.queues() == [QueueDescription(name: "a", settings: settings),
                                               QueueDescription(name: "b", settings: QueueSettings())])
        #expect(try await h.store.purge(queue: "b") == 20)
        #expect(try await h.store.pending(queue: "b", limit: 50).isEmpty)
        #expect(try await h.store.receive(queue: "b", limit: 50).isEmpty)
        #expect(try await h.store.get(id: "m3") == nil)
        try await h.store.add(h.message("m3", "b"))  // a purged id is free again
        try await h.store.deleteQueue("b")
        #expect(try await h.store.queues().map(\.name) == ["a"])
        await #expect(throws: MessageStoreError.self) { try await h.store.deleteQueue("never") }
        await #expect(throws: MessageStoreError.self) {
            try await h.store.createQueue("bad", settings: QueueSettings(maxDeliveryCount: 0))
        }
        try await h.finish()
    }

    @Test(arguments: Backend.allCases)
    func statisticsCountEveryState(backend: Backend) async throws {
        let h = try await Harness(backend)
        try await h.store.add(contentsOf: [h.message("a", payload: [1, 2]), h.message("b", payload: [3]),
                                           h.message("c", scheduledIn: .seconds(30))])
        _ = try await h.store.receive(queue: "q", limit: 1)
        h.manual.advance(.seconds(2))
        let st = try await h.store.statistics(queue: "q")
        #expect(st.active == 1 && st.locked == 1 && st.scheduled == 1 && st.deadLettered == 0)
        #expect(st.bytes == 6)
        #expect(st.oldestAge == .seconds(2))
        try await h.finish()
    }

    @Test(arguments: Backend.allCases)
    func competingConsumersNeverShareALiveLockAndLoseNothing(backend: Backend) async throws {
        let h = try await Harness(backend)
        let total = 400
        let store = h.store
        try await withThrowingTaskGroup(of: Void.self) { g in
            for p in 0..<4 {
                g.addTask { for i in 0..<(total / 4) { try await store.add(Message(id: "p\(p)-\(i)", queue: "q", payload: [UInt8(i & 0xff)])) } }
            }
            try await g.waitForAll()
        }
        let seen = DeliveryLog()
        try await withThrowingTaskGroup(of: Void.self) { g in
            for c in 0..<8 {
                g.addTask {
                    var idle = 0
                    while idle < 3 {
                        let got = try await store.receive(queue: "q", limit: 1 + c % 3)
                        if got.isEmpty { idle += 1; await Task.yield(); continue }
                        idle = 0
                        seen.record(got.map(\.message.id))
                        // Every third batch is abandoned once, the rest completed.
                        if c % 3 == 0, got[0].message.deliveryCount == 1 {
                            for r in got { try await store.abandon(r.lockToken) }
                        } else {
                            try await store.complete(got.map(\.lockToken))
                        }
                    }
                }
            }
            try await g.waitForAll()
        }
        let counts = seen.counts
        #expect(counts.count == total)
        #expect(try await store.pending(queue: "q", limit: 10).isEmpty)
        try await h.finish()
    }
}

@Suite struct LongPollingTests {
    @Test(arguments: Backend.allCases)
    func receiveWaitsForAnArrival(backend: Backend) async throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try await backend.make(dir)
        #expect(try await store.receive(queue: "q", limit: 1, lockDuration: nil, maxWait: .milliseconds(20)).isEmpty)
        // The add may land before or after the receive starts waiting; the
        // answer must be the same either way, so no sleep orders them.
        async let got = store.receive(queue: "q", limit: 1, lockDuration: nil, maxWait: .seconds(30))
        try await store.add(Message(id: "late", queue: "q", payload: []))
        #expect(try await got.map(\.message.id) == ["late"])
        try await store.close()
    }
}

@Suite struct RecentMessagesTests {
    @Test(arguments: Backend.allCases)
    func recentReturnsTheNewestFirst(backend: Backend) async throws {
        let h = try await Harness(backend)
        try await h.store.add(contentsOf: (0..<10).map { h.message("m\($0)") })
        #expect(try await h.store.recent(queue: "q", limit: 3).map(\.id) == ["m9", "m8", "m7"])
        let got = try await h.store.receive(queue: "q", limit: 1)
        try await h.store.remove(id: "m9")
        try await h.store.complete(got[0].lockToken)
        #expect(try await h.store.recent(queue: "q", limit: 20).map(\.id) == (1..<9).reversed().map { "m\($0)" })
        try await h.finish()
    }

    @Test func lsmStoreServesRecentFromMemoryAfterOneLoad() async throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var options = MessageStoreOptions()
        options.recentMessagesPerQueue = 8
        var store = try await LSMMessageStore.open(at: dir + "/s", options: options)
        try await store.add(contentsOf: (0..<20).map { Message(id: "m\($0)", queue: "chat", payload: [UInt8($0)]) })
        _ = try await store.recent(queue: "chat", limit: 5)           // loads the ring: a miss
        for i in 20..<30 { try await store.add(Message(id: "m\(i)", queue: "chat", payload: [UInt8(i)])) }
        #expect(try await store.recent(queue: "chat", limit: 5).map(\.id) == ["m29", "m28", "m27", "m26", "m25"])
        #expect(try await store.recent(queue: "chat", limit: 12).count == 12)  // more than the ring holds: a miss
        let stats = store.cacheStatistics
        #expect(stats.recentHits == 1 && stats.recentMisses == 2)
        try await store.close()
        store = try await LSMMessageStore.open(at: dir + "/s", options: options)
        #expect(try await store.recent(queue: "chat", limit: 2).map(\.id) == ["m29", "m28"])
        #expect(store.cacheStatistics.recentMisses == 1)
        try await store.close()
    }
}

@Suite struct BadInputTests {
    @Test(arguments: Backend.allCases)
    func absurdDatesAndDurationsAreRefusedNotTrapped(backend: Backend) async throws {
        let h = try await Harness(backend)
        for bad in [Date(timeIntervalSince1970: 1e300), Date(timeIntervalSince1970: -.infinity), Date(timeIntervalSince1970: .nan)] {
            await #expect(throws: MessageStoreError.self) { try await h.store.add(Message(id: "a", queue: "q", payload: [], timestamp: bad)) }
            await #expect(throws: MessageStoreError.self) { try await h.store.add(Message(id: "b", queue: "q", payload: [], scheduledAt: bad)) }
        }
        await #expect(throws: MessageStoreError.self) {
            try await h.store.createQueue("q", settings: QueueSettings(lockDuration: .seconds(Int64.max)))
        }
        try await h.store.add(h.message("ok"))
        await #expect(throws: MessageStoreError.self) { _ = try await h.store.receive(queue: "q", limit: 1, lockDuration: .seconds(Int64.max)) }
        #expect(try await h.store.pending(queue: "q", limit: 5).map(\.id) == ["ok"])
        // Extreme limits are just "everything there is".
        #expect(try await h.store.pending(queue: "q", limit: .max).count == 1)
        #expect(try await h.store.recent(queue: "q", limit: .max).count == 1)
        #expect(try await h.store.receive(queue: "q", limit: .max).map(\.message.id) == ["ok"])
        #expect(try await h.store.receive(queue: "q", limit: -3).isEmpty)
        try await h.finish()
    }
}
