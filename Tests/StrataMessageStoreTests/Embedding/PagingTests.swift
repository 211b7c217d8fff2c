import Foundation
import StrataMessageCore
import StrataMessageStore
import StrataTestSupport
import Testing

/// A store for the heavier embedding tests: the JSON backend debounces its
/// saves (every change rewriting a 10,000-message file would test the disk).
func embeddingStore(_ backend: Backend, _ dir: String) async throws -> any MessageStore {
    guard backend == .json else { return try await backend.make(dir) }
    var options = JSONFileMessageStore.Options()
    options.saveInterval = .milliseconds(50)
    return try JSONFileMessageStore(directory: dir + "/json", options: options)
}

/// Ids touched while paging, shared by the mutating task and the checks.
final class Touched: Sendable {
    private let state = Locked2(Set<String>())
    func insert(_ id: String) { state.with { _ = $0.insert(id) } }
    var all: Set<String> { state.with { $0 } }
}

/// A tiny lock for test bookkeeping.
final class Locked2<T>: @unchecked Sendable {  // the value is only touched under `lock`
    private let lock: StoreLock<T>
    init(_ v: T) { lock = StoreLock(v) }
    func with<R>(_ body: (inout T) throws -> R) rethrows -> R {
        try lock.withLock { try body(&$0) }
    }
}

@Suite struct PagingTests {
    @Test(arguments: Backend.allCases)
    func pagesOf100Through10000EqualOneListingWhileOthersAddAndComplete(backend: Backend) async throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try await embeddingStore(backend, dir)
        let seed = UInt64.random(in: 1 ... .max)
        print("paging \(backend) seed \(seed)")
        var rng = SeededRandom(seed: seed)
        let t0 = Date(timeIntervalSince1970: 1_700_000_000)
        for b in 0..<20 {
            try await store.add(contentsOf: (0..<500).map { k in
                let i = b * 500 + k
                return Message(id: "m\(i)", queue: "q", payload: [UInt8(i & 0xff)], timestamp: t0.addingTimeInterval(Double(i) / 1000))
            })
        }
        let full = try await store.pending(queue: "q", limit: 20_000).map(\.id)
        #expect(full.count == 10_000)
        let rank = Dictionary(uniqueKeysWithValues: full.enumerated().map { ($1, $0) })
        let removed = Touched(), added = Touched()
        let victims = (0..<300).map { _ in "m\(Int(rng.next() % 10_000))" }
        let mutator = Task {
            for (k, victim) in victims.enumerated() {
                let id = "new\(k)"
                added.insert(id)
                // Some land inside the listing, some after it.
                try await store.add(Message(id: id, queue: "q", payload: [], timestamp: t0.addingTimeInterval(Double(k * 37 % 12_000) / 1000)))
                removed.insert(victim)
                try await store.remove(id: victim)
                if k % 10 == 0 {
                    let got = try await store.receive(queue: "q", limit: 3, lockDuration: .seconds(60))
                    for r in got { removed.insert(r.message.id) }
                    try await store.complete(got.map(\.lockToken))
                }
            }
        }
        var paged: [String] = []
        var cursor: String?
        while true {
            let page = try await store.pending(queue: "q", after: cursor, limit: 100)
            if page.isEmpty { break }
            #expect(page.count <= 100)
            paged += page.map(\.id)
            cursor = page.last!.id
            await Task.yield()
        }
        try await mutator.value
        let gone = removed.all, new = added.all
        #expect(Set(paged).count == paged.count, "an id listed twice")
        let pagedSet = Set(paged)
        for id in full where !gone.contains(id) { #expect(pagedSet.contains(id), "\(id) stored throughout but not listed") }
        for id in paged { #expect(rank[id] != nil || new.contains(id), "unknown id \(id)") }
        let olds = paged.compactMap { rank[$0] }
        #expect(olds == olds.sorted(), "pages out of order")
        // At rest, pages chained forwards and backwards equal the listing exactly.
        let now = try await store.pending(queue: "q", limit: 20_000).map(\.id)
        var forward: [String] = [], backward: [String] = []
        cursor = nil
        while true {
            let page = try await store.pending(queue: "q", after: cursor, limit: 100)
            guard let last = page.last else { break }
            forward += page.map(\.id)
            cursor = last.id
        }
        cursor = nil
        while true {
            let page = try await store.recent(queue: "q", before: cursor, limit: 100)
            guard let last = page.last else { break }
            backward += page.map(\.id)
            cursor = last.id
        }
        #expect(forward == now)
        #expect(backward == now.reversed())
        try await store.close()
    }

    @Test(arguments: Backend.allCases)
    func cursorsSurviveTheirMessageAndUnknownOnesAreRefused(backend: Backend) async throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try await backend.make(dir)
        let t0 = Date(timeIntervalSince1970: 1_700_000_000)
        try await store.add(contentsOf: (0..<10).map { Message(id: "c\($0)", queue: "chat", payload: [], timestamp: t0.addingTimeInterval(Double($0))) })
        let first = try await store.pending(queue: "chat", after: nil, limit: 3)
        #expect(first.map(\.id) == ["c0", "c1", "c2"])
        try await store.remove(id: "c2")  // the cursor itself goes
        #expect(try await store.pending(queue: "chat", after: "c2", limit: 3).map(\.id) == ["c3", "c4", "c5"])
        let newest = try await store.recent(queue: "chat", before: nil, limit: 2)
        #expect(newest.map(\.id) == ["c9", "c8"])
        try await store.remove(id: "c8")
        #expect(try await store.recent(queue: "chat", before: "c8", limit: 3).map(\.id) == ["c7", "c6", "c5"])
        #expect(try await store.recent(queue: "chat", before: "c1", limit: 3).map(\.id) == ["c0"])
        #expect(try await store.pending(queue: "chat", after: "c9", limit: 3).isEmpty)
        await #expect(throws: MessageStoreError.self) { _ = try await store.pending(queue: "chat", after: "never", limit: 3) }
        await #expect(throws: MessageStoreError.self) { _ = try await store.recent(queue: "other", before: "c3", limit: 3) }
        #expect(try await store.pending(queue: "chat", after: nil, limit: 0).isEmpty)
        try await store.close()
    }

    @Test(arguments: Backend.allCases)
    func allQueueNamesListsQueuesSubscriptionsAndDeadLetterQueuesAfterARestart(backend: Backend) async throws {
        let h = try await Harness(backend)
        try await h.store.createQueue("empty", settings: QueueSettings())
        try await h.store.add(h.message("a", "orders"))
        try await h.store.createTopic("news")
        try await h.store.createSubscription("eu", topic: "news", settings: QueueSettings(), filter: SubscriptionFilter())
        let got = try await h.store.receive(queue: "orders", limit: 1, lockDuration: nil)
        try await h.store.deadLetter(got[0].lockToken, reason: "bad")
        try await h.restart()
        #expect(try await h.store.allQueueNames() == ["empty", "news/subscriptions/eu", "orders", "orders/$deadletterqueue"])
        try await h.finish()
    }
}
