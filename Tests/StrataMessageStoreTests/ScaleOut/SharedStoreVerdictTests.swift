import Foundation
@testable import StrataStress
import StrataTestSupport
import Testing

/// The judge of the multi-broker run (SharedStoreHistory.swift) on
/// hand-written journals: it passes a correct history and names each kind
/// of violation — so the process test above cannot pass by judging nothing.
@Suite struct SharedStoreVerdictTests {
    /// Broker 0 (the one killed) added m1 and m2, received both and died
    /// holding them; broker 1 received each after its lock ended and
    /// completed it. Times in µs; lock ends in ms.
    static let killedBroker = [
        "I 1000 m1", "A 2000 m1", "I 3000 m2", "A 4000 m2",
        "R 10000 11000 m1|1|T01|1000 m2|1|T02|1000",
        "S 12000",
    ]
    static let survivor = [
        "R 1000000 1000100 m1|2|T11|3000 m2|2|T12|3000",
        "C? 1000200 T11 T12", "C 1000300 T11 T12",
    ]

    static func judge(_ brokers: [[String]], remaining: [String] = [], torn: String? = nil) throws -> SharedStoreVerdict {
        let dir = TempDir("verdict")
        defer { dir.cleanup() }
        var histories: [Int: SharedStoreHistory] = [:]
        for (b, lines) in brokers.enumerated() {
            let folder = dir.path + "/broker-\(b)"
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            var text = lines.map { $0 + "\n" }.joined()
            if b == 0, let torn { text += torn }
            try text.write(toFile: folder + "/journal", atomically: true, encoding: .utf8)
            histories[b] = SharedStoreHistory.load(directory: folder, broker: b)
        }
        return SharedStoreVerdict.judge(histories, victim: 0, remaining: remaining)
    }

    @Test func aCorrectHistoryPassesAndATornLastLineIsIgnored() throws {
        let v = try Self.judge([Self.killedBroker, Self.survivor], torn: "C 30000 T01")
        #expect(v.failure == nil)
        #expect(v.orphanedLocks == 2)
        #expect(v.orphansRedelivered == 2)
        #expect(v.deliveries == 4)
        #expect(v.completes == 2)
    }

    @Test func aDeliveryWhileTheLockIsLiveIsTwoLiveLocks() throws {
        let early = ["R 900000 900100 m1|2|T11|3000 m2|2|T12|3000", "C? 900200 T11 T12", "C 900300 T11 T12"]
        let v = try Self.judge([Self.killedBroker, early])
        #expect(v.failure?.contains("two live locks") == true, "\(v.failure ?? "passed")")
    }

    @Test func anAbandonReleasesTheLockAtOnce() throws {
        let abandoned = ["I 1 m1", "A 2 m1", "R 10000 20000 m1|1|T01|9000", "U? 100000 T01", "U 110000 T01"]
        let next = ["R 105000 120000 m1|2|T11|9000", "C? 130000 T11", "C 140000 T11"]
        #expect(try Self.judge([["S 1"], abandoned, next]).failure == nil)
        // A delivery that returned before the abandon was even issued is not.
        let tooEarly = ["R 30000 40000 m1|2|T11|9000", "C? 130000 T11", "C 140000 T11"]
        #expect(try Self.judge([["S 1"], abandoned, tooEarly]).failure?.contains("two live locks") == true)
    }

    @Test func oneDeliveryCountGrantedTwiceFails() throws {
        let twin = ["R 1000000 1000100 m1|2|T21|3000"]
        let v = try Self.judge([Self.killedBroker, Self.survivor, twin])
        #expect(v.failure?.contains("granted twice") == true, "\(v.failure ?? "passed")")
    }

    @Test func aCompletedMessageDeliveredAgainFails() throws {
        let again = ["R 4000000 4000100 m1|3|T21|6000"]
        let v = try Self.judge([Self.killedBroker, Self.survivor, again])
        #expect(v.failure?.contains("after broker 1's complete returned") == true, "\(v.failure ?? "passed")")
        let twice = ["R 4000000 4000100 m1|3|T21|6000", "C? 4000200 T21", "C 4000300 T21"]
        #expect(try Self.judge([Self.killedBroker, Self.survivor, twice]).failure?.contains("completed twice") == true)
    }

    @Test func anAcknowledgedAddNeverCompletedIsLost() throws {
        let extra = Self.survivor + ["I 5 m3", "A 6 m3"]
        #expect(try Self.judge([Self.killedBroker, extra]).failure?.contains("m3, acknowledged as added, was never completed") == true)
        // An add that never returned may be lost; a complete the dead broker had in flight may have applied.
        let unacknowledged = Self.survivor + ["I 5 m3"]
        #expect(try Self.judge([Self.killedBroker, unacknowledged]).failure == nil)
        let inFlight = ["I 1 m4", "A 2 m4", "R 10 20 m4|1|T05|9000", "C? 30 T05"]
        #expect(try Self.judge([Self.killedBroker + inFlight, Self.survivor]).failure == nil)
    }

    @Test func anythingLeftStoredOrUnknownFails() throws {
        #expect(try Self.judge([Self.killedBroker, Self.survivor], remaining: ["m2"]).failure?.contains("still stored") == true)
        let stranger = Self.survivor + ["R 5000000 5000100 zz|1|T31|7000"]
        #expect(try Self.judge([Self.killedBroker, stranger]).failure?.contains("never added") == true)
    }
}
