import Foundation
import Strata
import StrataMessageStore
import Testing

/// Issue 12 item 2: concurrent appends of one idempotency key must store one
/// event and hand every caller the same LSN. The store once looked the keys
/// up before taking its sequencer lock and forgot an in-flight key as soon
/// as its write finished, so an append that had looked the key up (a miss)
/// while another append of the key was being written could store it again
/// under a second LSN. Batches that start with the shared key and carry
/// many other keys widen that window (their lookups of the other keys run
/// after the miss), and `.memoryOnly` makes the competing write short.
@Suite struct EventIdempotencyRaceTests {
    @Test(arguments: [CommitMode.memoryOnly, .syncDurable])
    func concurrentAppendsOfOneKeyStoreOneEvent(mode: CommitMode) async throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var options = MessageStoreOptions()
        options.commitMode = mode
        let store = try await LSMEventStore.open(at: dir + "/events", options: options)
        let rounds = mode == .memoryOnly ? 60 : 15
        for round in 0..<rounds {
            let stream = "s\(round)", shared = "shared-\(round)"
            let singles = LSNLog()
            try await withThrowingTaskGroup(of: Void.self) { g in
                for task in 0..<12 {
                    g.addTask {
                        if task % 2 == 0 {
                            singles.record(try await store.append(Event(stream: stream, payload: [UInt8(task)], idempotencyKey: shared)))
                        } else {
                            let others = (0..<100).map { Event(stream: stream, payload: [1], idempotencyKey: "\(shared)-\(task)-\($0)") }
                            _ = try await store.append(contentsOf: [Event(stream: stream, payload: [UInt8(task)], idempotencyKey: shared)] + others)
                        }
                    }
                }
                try await g.waitForAll()
            }
            let stored = try await store.load(stream: stream, after: 0, limit: 10_000).filter { $0.idempotencyKey == shared }
            #expect(stored.count == 1, "round \(round): key \(shared) stored \(stored.count) times at LSNs \(stored.map(\.lsn))")
            let lsn = try #require(stored.first?.lsn)
            #expect(Set(singles.all) == [lsn], "round \(round): single appends got LSNs \(Set(singles.all)), stored \(lsn)")
            #expect(try await store.append(Event(stream: stream, payload: [], idempotencyKey: shared)) == lsn)
        }
        try await store.close()
    }
}
