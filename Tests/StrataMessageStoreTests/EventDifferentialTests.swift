import Foundation
import StrataMessageStore
import Testing

/// Random operation sequences run on a backend and on the in-memory
/// reference side by side; every answer must agree. LSNs are compared
/// through a translation table (PostgreSQL's come from a sequence other
/// tests draw from too), so "agree" means the same events in the same order
/// under the same keys. Seeds are printed.
@Suite struct EventDifferentialTests {
    private struct Rng {
        var s: UInt64
        mutating func next(_ n: Int) -> Int {
            s ^= s << 13; s ^= s >> 7; s ^= s << 17
            return Int(s % UInt64(n))
        }
    }

    private func attempt<T>(_ body: () async throws -> T) async -> Result<T, any Error> {
        do { return .success(try await body()) } catch { return .failure(error) }
    }

    @Test(arguments: EventBackend.durable)
    func randomOperationsAgreeWithTheReference(backend: EventBackend) async throws {
        let seed = UInt64(Date().timeIntervalSince1970 * 1000) | 1
        print("EventDifferentialTests \(backend) seed \(seed)")
        var rng = Rng(s: seed)
        let f = EventFixture(backend)
        defer { f.cleanup() }
        for policy in [EventStoreOptions.DuplicatePolicy.returnExisting, .fail] {
            let options = EventStoreOptions(commitMode: .memoryOnly, compression: .lz4(threshold: 16), duplicatePolicy: policy)
            let reference = InMemoryEventStore(options: options)
            var store: any EventStore = try await f.open(options)
            let tag = "\(policy)"
            var toReference: [Int64: Int64] = [0: 0], toStore: [Int64: Int64] = [0: 0]
            let streams = (0..<3).map { f.stream("\(tag)-\($0)") }
            var keys: [String] = []
            func map(_ s: Int64, _ r: Int64) {
                if let known = toReference[s] { #expect(known == r, "seed \(seed): store LSN \(s) maps to \(known) and \(r)") }
                toReference[s] = r
                toStore[r] = s
            }
            for step in 0..<300 {
                let op = rng.next(100)
                if op < 45 {
                    // A batch of 1–4 events, some reusing earlier keys.
                    var batch: [Event] = []
                    var used = Set<String>()
                    for _ in 0...rng.next(4) {
                        let key = !keys.isEmpty && rng.next(4) == 0 ? keys[rng.next(keys.count)] : f.key("\(tag)-\(keys.count)-\(step)-\(batch.count)")
                        guard used.insert(key).inserted else { continue }
                        let size = rng.next(3) == 0 ? 40 + rng.next(200) : rng.next(8)
                        batch.append(Event(stream: streams[rng.next(3)], payload: [UInt8](repeating: UInt8(rng.next(4)), count: size),
                                           idempotencyKey: key, timestamp: Date(timeIntervalSinceReferenceDate: Double(step)),
                                           metadata: rng.next(2) == 0 ? [:] : ["step": "\(step)"]))
                    }
                    let r = await attempt { try await reference.append(contentsOf: batch) }
                    let s = await attempt { try await store.append(contentsOf: batch) }
                    switch (r, s) {
                    case (.success(let rl), .success(let sl)): map(sl, rl)
                    case (.failure(let re as MessageStoreError), .failure(let se as MessageStoreError)):
                        #expect(re.kind == se.kind, "seed \(seed) step \(step)")
                        if let rl = re.existingLSN, let sl = se.existingLSN { #expect(toReference[sl] == rl, "seed \(seed) step \(step)") }
                    default: Issue.record("seed \(seed) step \(step): reference \(r), store \(s)")
                    }
                    for e in batch where !keys.contains(e.idempotencyKey) { keys.append(e.idempotencyKey) }
                    // Map every new LSN of the batch through the keys.
                    for e in batch {
                        if let rl = try await reference.lsn(forIdempotencyKey: e.idempotencyKey),
                           let sl = try await store.lsn(forIdempotencyKey: e.idempotencyKey) { map(sl, rl) }
                    }
                } else if op < 80 {
                    let stream = streams[rng.next(3)]
                    let known = Array(toStore.keys.sorted())
                    let after = known[rng.next(known.count)]
                    let limit = 1 + rng.next(20)
                    let r = try await reference.load(stream: stream, after: after, limit: limit)
                    let s = try await store.load(stream: stream, after: toStore[after]!, limit: limit)
                    #expect(s.map { toReference[$0.lsn] } == r.map(\.lsn), "seed \(seed) step \(step): load")
                    #expect(s.map(\.payload) == r.map(\.payload) && s.map(\.idempotencyKey) == r.map(\.idempotencyKey))
                    #expect(s.map(\.metadata) == r.map(\.metadata) && s.map(\.timestamp) == r.map(\.timestamp))
                } else if op < 88 {
                    let stream = streams[rng.next(3)]
                    let last = try await reference.load(stream: stream, after: 0, limit: 10_000).last?.lsn ?? 0
                    guard last > 0, let sl = toStore[last] else { continue }
                    try await reference.writeSnapshot(EventSnapshot(stream: stream, uptoLSN: last, state: [UInt8(step & 0xff)], createdAt: Date(timeIntervalSinceReferenceDate: 1)))
                    try await store.writeSnapshot(EventSnapshot(stream: stream, uptoLSN: sl, state: [UInt8(step & 0xff)], createdAt: Date(timeIntervalSinceReferenceDate: 1)))
                } else if op < 93 {
                    let stream = streams[rng.next(3)]
                    try await reference.compact(stream: stream)
                    try await store.compact(stream: stream)
                } else if op < 97 {
                    let stream = streams[rng.next(3)]
                    let r = try await reference.latestSnapshot(stream: stream)
                    let s = try await store.latestSnapshot(stream: stream)
                    #expect(s.map { toReference[$0.uptoLSN] } == r.map(\.uptoLSN) && s?.state == r?.state, "seed \(seed) step \(step): snapshot")
                } else {
                    try await store.close()
                    store = try await f.open(options)
                }
            }
            for stream in streams {
                let r = try await reference.load(stream: stream, after: 0, limit: 10_000)
                let s = try await store.load(stream: stream, after: 0, limit: 10_000)
                #expect(s.map { toReference[$0.lsn] } == r.map(\.lsn), "seed \(seed): final contents of \(stream)")
            }
            try await store.close()
        }
    }
}
