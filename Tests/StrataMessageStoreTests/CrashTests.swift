import Foundation
import Strata
import StrataMessageStore
import Testing

/// Power loss under the LSM store (the engine's fault-injecting file system
/// drops everything not synced): every state change a `.syncDurable` call
/// acknowledged survives — messages, acks, delivery counts, locks, dead
/// letters, entities — and nothing acknowledged later than the crash appears.
@Suite struct MessageStoreCrashTests {
    func open(_ fs: FaultInjectionFileSystem, _ clock: ManualClock) async throws -> LSMMessageStore {
        var options = MessageStoreOptions()
        options.clock = clock.clock
        options.engine.fileSystem = fs
        options.rangeDeleteInterval = 16
        return try await LSMMessageStore.open(at: "/store", options: options)
    }

    @Test(arguments: [false, true])
    func acknowledgedStateSurvivesPowerLoss(tornWrites: Bool) async throws {
        let fs = FaultInjectionFileSystem(seed: tornWrites ? 7 : 3)
        let clock = ManualClock()
        var store = try await open(fs, clock)
        try await store.createQueue("q", settings: QueueSettings(lockDuration: .seconds(30), maxDeliveryCount: 2,
                                                                 duplicateDetectionWindow: .seconds(600)))
        try await store.createTopic("t")
        try await store.createSubscription("s", topic: "t", settings: QueueSettings(), filter: SubscriptionFilter())
        try await store.add(contentsOf: (0..<100).map { Message(id: "m\($0)", queue: "q", payload: [UInt8($0)], timestamp: clock.now) })
        try await store.publish(Message(id: "p", queue: "t", payload: [], timestamp: clock.now), topic: "t")
        let got = try await store.receive(queue: "q", limit: 60)
        try await store.complete(got.prefix(50).map(\.lockToken))       // m0..m49 acknowledged
        try await store.abandon(got[50].lockToken)                      // m50: delivered once, unlocked
        try await store.deadLetter(got[51].lockToken, reason: "bad")    // m51: dead-lettered
        // m52..m59 stay locked by their tokens.
        try fs.simulatePowerLoss(tornWrites: tornWrites)
        store = try await open(fs, clock)
        #expect(try await store.topics() == ["t"])
        #expect(try await store.pending(queue: EntityPath.subscriptionQueue(topic: "t", subscription: "s"), limit: 5).map(\.id) == ["p/s"])
        let pending = try await store.pending(queue: "q", limit: 1000)
        #expect(pending.map(\.id) == (50..<100).filter { $0 != 51 }.map { "m\($0)" })
        #expect(pending.first?.deliveryCount == 1)
        #expect(try await store.pending(queue: EntityPath.deadLetterQueue(of: "q"), limit: 5).map(\.id) == ["m51"])
        // Locks held before the crash still hold: m50 comes first, then m60...
        let next = try await store.receive(queue: "q", limit: 3)
        #expect(next.map(\.message.id) == ["m50", "m60", "m61"])
        // … and their tokens still complete after the restart.
        try await store.complete(got[52].lockToken)
        #expect(try await store.get(id: "m52") == nil)
        // Duplicate window of acknowledged ids survived.
        await #expect(throws: MessageStoreError.self) { try await store.add(Message(id: "m3", queue: "q", payload: [])) }
        try await store.close()
    }

    @Test func aWriteThatFailsIsNeitherAcknowledgedNorVisible() async throws {
        let fs = FaultInjectionFileSystem(seed: 5)
        let clock = ManualClock()
        let store = try await open(fs, clock)
        try await store.add(Message(id: "a", queue: "q", payload: []))
        fs.inject(FaultRule([.sync]))
        await #expect(throws: (any Error).self) { try await store.add(Message(id: "b", queue: "q", payload: [])) }
        // The engine is read-only now: receive cannot record a lock, and says so.
        await #expect(throws: (any Error).self) { _ = try await store.receive(queue: "q", limit: 5) }
        fs.clearFaults()
        try fs.simulatePowerLoss()
        let reopened = try await open(fs, clock)
        #expect(try await reopened.pending(queue: "q", limit: 5).map(\.id) == ["a"])
        #expect(try await reopened.receive(queue: "q", limit: 5).map(\.message.id) == ["a"])
        try await reopened.close()
    }
}
