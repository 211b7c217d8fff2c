import Testing
@testable import Strata

@Suite(.offCooperativePool) struct LRUTableTests {
    @Test func evictsLeastRecentlyUsedFirst() {
        let t = LRUTable<Int>(capacity: 3)
        var evicted: [Int] = []
        for k in 1...3 { t.insert(7, UInt64(k), k, charge: 1, evicted: { evicted.append($0) }) }
        #expect(t.keysByRecency.map(\.1) == [3, 2, 1])
        let one = t.get(7, 1)  // 1 becomes most recent
        #expect(one == 1)
        #expect(t.peek(7, 2) == 2)  // peek does not change recency
        #expect(t.keysByRecency.map(\.1) == [1, 3, 2])
        t.insert(7, 4, 4, charge: 1, evicted: { evicted.append($0) })
        #expect(evicted == [2])
        t.insert(7, 5, 5, charge: 2, evicted: { evicted.append($0) })
        #expect(evicted == [2, 3, 1])
        #expect(t.keysByRecency.map(\.1) == [5, 4])
        #expect(t.usage == 3 && t.count == 2)
    }

    @Test func chargesAreExactAcrossReplaceRemoveAndOversize() {
        let t = LRUTable<String>(capacity: 100)
        var evicted: [String] = []
        t.insert(1, 0, "a", charge: 30, evicted: { evicted.append($0) })
        t.insert(1, 8, "b", charge: 30, evicted: { evicted.append($0) })
        t.insert(1, 0, "a2", charge: 50, evicted: { evicted.append($0) })
        #expect(evicted == ["a"])  // the replaced value is handed back
        #expect(t.usage == 80 && t.count == 2)
        let storedHuge = t.insert(2, 0, "huge", charge: 101, evicted: { evicted.append($0) })
        #expect(!storedHuge)
        #expect(t.peek(2, 0) == nil && t.usage == 80)
        // Growing an entry past the capacity drops it.
        let storedB2 = t.insert(1, 8, "b2", charge: 101, evicted: { evicted.append($0) })
        #expect(!storedB2)
        #expect(t.peek(1, 8) == nil && t.usage == 50 && t.count == 1)
        let a2 = t.remove(1, 0)
        #expect(a2 == "a2")
        #expect(t.usage == 0 && t.count == 0 && t.keysByRecency.isEmpty)
        let gone = t.remove(1, 0)
        #expect(gone == nil)
    }

    @Test func removeAllDropsOneFile() {
        let t = LRUTable<Int>(capacity: 1000)
        for f: UInt64 in 1...3 { for o: UInt64 in 0..<50 { t.insert(f, o * 4096, Int(f), charge: 1, evicted: { _ in }) } }
        var dropped = 0
        t.removeAll(k0: 2, evicted: { #expect($0 == 2); dropped += 1 })
        #expect(dropped == 50)
        #expect(t.count == 100 && t.usage == 100)
        for o: UInt64 in 0..<50 {
            #expect(t.peek(2, o * 4096) == nil)
            #expect(t.peek(1, o * 4096) == 1 && t.peek(3, o * 4096) == 3)
        }
    }

    /// Random inserts, lookups and removals against a simple model; small
    /// key spaces force long probe runs, so backward-shift deletion and
    /// growth are exercised.
    @Test(arguments: [1, 2, 3] as [UInt64])
    func matchesModel(seed: UInt64) {
        var rng = SeededRandom(seed: seed)
        let capacity = 400
        let t = LRUTable<UInt64>(capacity: capacity)
        var model: [(k0: UInt64, k1: UInt64, v: UInt64, charge: Int)] = []  // most recent first
        for step in 0..<20_000 {
            let k0 = UInt64.random(in: 0..<4, using: &rng)
            let k1 = UInt64.random(in: 0..<64, using: &rng) * 4096
            let idx = model.firstIndex { $0.k0 == k0 && $0.k1 == k1 }
            switch Int.random(in: 0..<10, using: &rng) {
            case 0..<4:
                let charge = Int.random(in: 1...20, using: &rng)
                let v = UInt64(step)
                t.insert(k0, k1, v, charge: charge, evicted: { _ in })
                if let idx { model.remove(at: idx) }
                model.insert((k0, k1, v, charge), at: 0)
                var usage = model.reduce(0) { $0 + $1.charge }
                while usage > capacity { usage -= model.removeLast().charge }
            case 4..<8:
                let got = t.get(k0, k1)
                #expect(got == idx.map { model[$0].v })
                if let idx { model.insert(model.remove(at: idx), at: 0) }
            default:
                let got = t.remove(k0, k1)
                #expect(got == idx.map { model[$0].v })
                if let idx { model.remove(at: idx) }
            }
            if step % 500 == 0 {
                #expect(t.keysByRecency.map { [$0.0, $0.1] } == model.map { [$0.k0, $0.k1] })
                #expect(t.usage == model.reduce(0) { $0 + $1.charge })
                #expect(t.count == model.count)
            }
        }
    }
}
