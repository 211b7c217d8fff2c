import Foundation
import Synchronization
import Testing
@testable import Strata

private func add(_ m: Memtable, _ seq: UInt64, _ kind: ValueKind, _ key: [UInt8], _ value: [UInt8] = []) {
    key.withUnsafeBytes { k in value.withUnsafeBytes { v in m.add(sequence: seq, kind: kind, key: k, value: v) } }
}

private func get(_ m: Memtable, _ key: [UInt8], at seq: UInt64) -> MemtableGetResult {
    key.withUnsafeBytes { m.get($0, snapshotSequence: seq) }
}

private func seek(_ it: any InternalIterator, _ target: [UInt8]) {
    target.withUnsafeBytes { it.seek($0) }
}

private func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

/// Collects (internal key, value) pairs walking forward from the first entry.
private func forwardEntries(_ it: any InternalIterator) -> [([UInt8], [UInt8])] {
    var out: [([UInt8], [UInt8])] = []
    it.seekToFirst()
    while it.isValid {
        out.append((it.key.array, it.value.array))
        it.next()
    }
    return out
}

@Suite(.offCooperativePool) struct MemtableTests {
    @Test func randomKeysIterateInOrderBothDirections() {
        let m = Memtable(comparator: .bytewise)
        var rng = SeededRandom(seed: 42)
        var expected: [([UInt8], [UInt8])] = []
        // Short keys from a small alphabet so user keys repeat with
        // different sequence numbers and share prefixes.
        for seq in 1...3000 as ClosedRange<UInt64> {
            let key = (0..<rng.below(6)).map { _ in UInt8(97 + rng.below(3)) }
            let kind: ValueKind = rng.below(5) == 0 ? .deletion : .value
            let value = kind == .value ? (0..<rng.below(40)).map { _ in UInt8(truncatingIfNeeded: rng.next()) } : []
            add(m, seq, kind, key, value)
            expected.append((makeInternalKey(key, seq, kind), value))
        }
        expected.sort { compareInternalKeys($0.0, $1.0) < 0 }

        let it = m.makeIterator()
        let forward = forwardEntries(it)
        #expect(forward.count == expected.count)
        #expect(forward.map(\.0) == expected.map(\.0))
        #expect(forward.map(\.1) == expected.map(\.1))

        var backward: [[UInt8]] = []
        it.seekToLast()
        while it.isValid {
            backward.append(it.key.array)
            it.prev()
        }
        #expect(backward == expected.map(\.0).reversed())
        #expect(m.entryCount == 3000)
        #expect(m.firstSequence == 1 && m.lastSequence == 3000)
    }

    @Test func seekSemantics() {
        let m = Memtable(comparator: .bytewise)
        let it = m.makeIterator()
        it.seekToFirst()
        #expect(!it.isValid)
        it.seekToLast()
        #expect(!it.isValid)
        seek(it, makeInternalKey(bytes("a"), 1, .value))
        #expect(!it.isValid)

        add(m, 10, .value, bytes("b"), bytes("b10"))
        add(m, 20, .value, bytes("b"), bytes("b20"))
        add(m, 15, .value, bytes("d"), bytes("d15"))

        // Before everything.
        seek(it, makeInternalKey(bytes("a"), 100, .forSeek))
        #expect(it.key.array == makeInternalKey(bytes("b"), 20, .value))
        // Newest version of b at or below 15 is seq 10.
        seek(it, makeInternalKey(bytes("b"), 15, .forSeek))
        #expect(it.key.array == makeInternalKey(bytes("b"), 10, .value))
        #expect(it.value.array == bytes("b10"))
        // Exact hit.
        seek(it, makeInternalKey(bytes("b"), 20, .value))
        #expect(it.value.array == bytes("b20"))
        // Below every version of b: moves on to d.
        seek(it, makeInternalKey(bytes("b"), 5, .forSeek))
        #expect(it.key.array == makeInternalKey(bytes("d"), 15, .value))
        // Between user keys.
        seek(it, makeInternalKey(bytes("c"), 0, .deletion))
        #expect(it.value.array == bytes("d15"))
        // prev from d lands on the last version of b; then the first.
        it.prev()
        #expect(it.value.array == bytes("b10"))
        it.prev()
        #expect(it.value.array == bytes("b20"))
        it.prev()
        #expect(!it.isValid)
        // Past the end.
        seek(it, makeInternalKey(bytes("e"), 1, .value))
        #expect(!it.isValid)
        seek(it, makeInternalKey(bytes("d"), 14, .forSeek))
        #expect(!it.isValid)
        it.seekToLast()
        #expect(it.value.array == bytes("d15"))
        it.next()
        #expect(!it.isValid)
        // Moving an invalid iterator keeps it invalid.
        it.next()
        it.prev()
        #expect(!it.isValid)
        #expect(it.key.count == 0 && it.value.count == 0)
        #expect(it.status() == nil)
    }

    @Test func getHonoursSnapshots() {
        let m = Memtable(comparator: .bytewise)
        add(m, 1, .value, bytes("a"), bytes("v1"))
        add(m, 5, .value, bytes("a"), bytes("v2"))
        add(m, 8, .deletion, bytes("a"))
        add(m, 10, .value, bytes("a"), bytes("v3"))
        add(m, 3, .value, bytes("ab"), bytes("x"))
        add(m, 4, .value, bytes(""), bytes("empty"))
        add(m, 6, .value, [0x61, 0x00], bytes("a0"))

        #expect(get(m, bytes("a"), at: 0) == .notFound)
        for s: UInt64 in 1...4 { #expect(get(m, bytes("a"), at: s) == .found(bytes("v1"))) }
        for s: UInt64 in 5...7 { #expect(get(m, bytes("a"), at: s) == .found(bytes("v2"))) }
        for s: UInt64 in 8...9 { #expect(get(m, bytes("a"), at: s) == .deleted) }
        #expect(get(m, bytes("a"), at: 10) == .found(bytes("v3")))
        #expect(get(m, bytes("a"), at: maxSequenceNumber) == .found(bytes("v3")))
        #expect(get(m, bytes("a"), at: .max) == .found(bytes("v3")))

        // Keys sharing a prefix are not confused with each other.
        #expect(get(m, bytes("ab"), at: 2) == .notFound)
        #expect(get(m, bytes("ab"), at: 3) == .found(bytes("x")))
        #expect(get(m, [0x61, 0x00], at: 100) == .found(bytes("a0")))
        #expect(get(m, bytes(""), at: 100) == .found(bytes("empty")))
        #expect(get(m, bytes(""), at: 3) == .notFound)
        #expect(get(m, bytes("b"), at: 100) == .notFound)
        #expect(get(m, bytes("0"), at: 100) == .notFound)
    }

    @Test func emptyKeysAndValues() {
        let m = Memtable(comparator: .bytewise)
        add(m, 1, .value, [], [])
        add(m, 2, .value, bytes("k"), [])
        add(m, 3, .deletion, [], bytes("ignored"))
        #expect(get(m, [], at: 1) == .found([]))
        #expect(get(m, [], at: 3) == .deleted)
        #expect(get(m, bytes("k"), at: 3) == .found([]))

        let entries = forwardEntries(m.makeIterator())
        #expect(entries.map(\.0) == [
            makeInternalKey([], 3, .deletion),
            makeInternalKey([], 1, .value),
            makeInternalKey(bytes("k"), 2, .value),
        ])
        #expect(entries.allSatisfy { $0.1.isEmpty })
    }

    @Test func largeEntriesAndVarintLengths() {
        let m = Memtable(comparator: .bytewise)
        let bigKey = [UInt8](repeating: 7, count: 300)
        let bigValue = (0..<2_000_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        add(m, 1, .value, bigKey, bigValue)
        add(m, 2, .value, bytes("small"), [UInt8](repeating: 1, count: 200))
        #expect(get(m, bigKey, at: 1) == .found(bigValue))
        #expect(get(m, bytes("small"), at: 2) == .found([UInt8](repeating: 1, count: 200)))
        let entries = forwardEntries(m.makeIterator())
        #expect(entries.count == 2)
        #expect(entries[0].0 == makeInternalKey(bigKey, 1, .value))
    }

    @Test func rangeTombstonesLiveInASeparateList() {
        let m = Memtable(comparator: .bytewise)
        #expect(m.makeRangeTombstoneIterator() == nil)
        add(m, 1, .value, bytes("c"), bytes("v"))
        #expect(m.makeRangeTombstoneIterator() == nil)
        add(m, 2, .rangeDeletion, bytes("b"), bytes("f"))
        add(m, 3, .rangeDeletion, bytes("a"), bytes("c"))
        add(m, 4, .value, bytes("d"), bytes("w"))

        // Point reads and iteration never see tombstones.
        let points = forwardEntries(m.makeIterator())
        #expect(points.map(\.0) == [makeInternalKey(bytes("c"), 1, .value), makeInternalKey(bytes("d"), 4, .value)])
        #expect(get(m, bytes("b"), at: 10) == .notFound)
        #expect(get(m, bytes("c"), at: 10) == .found(bytes("v")))

        guard let rit = m.makeRangeTombstoneIterator() else {
            Issue.record("expected a range tombstone iterator")
            return
        }
        let tombstones = forwardEntries(rit)
        #expect(tombstones.map(\.0) == [makeInternalKey(bytes("a"), 3, .rangeDeletion), makeInternalKey(bytes("b"), 2, .rangeDeletion)])
        #expect(tombstones.map(\.1) == [bytes("c"), bytes("f")])
        rit.seekToLast()
        #expect(kindOf(rit.key) == .rangeDeletion)
        #expect(rit.value.array == bytes("f"))
        #expect(m.entryCount == 4 && m.rangeTombstoneCount == 2)
        #expect(m.firstSequence == 1 && m.lastSequence == 4)
    }

    @Test func statisticsAndMemoryUsageGrow() {
        let m = Memtable(comparator: .bytewise)
        #expect(m.isEmpty && m.entryCount == 0)
        #expect(m.firstSequence == nil && m.lastSequence == nil)
        var last = m.approximateMemoryUsage
        let value = [UInt8](repeating: 0xAB, count: 100)
        for i in 0..<5000 {
            var key = bytes("key")
            key.append(contentsOf: withUnsafeBytes(of: UInt32(i).bigEndian) { Array($0) })
            add(m, UInt64(100 + (i * 7919) % 5000), .value, key, value)
            let usage = m.approximateMemoryUsage
            #expect(usage > last)
            last = usage
        }
        #expect(last >= 5000 * (7 + 8 + 100))
        #expect(!m.isEmpty && m.entryCount == 5000)
        #expect(m.firstSequence == 100 && m.lastSequence == 5099)
    }

    @Test func arenaAlignmentAndLargeBlocks() {
        let arena = Arena(blockSize: 4096)
        #expect(arena.memoryUsage == 0)
        var seen: [UnsafeMutableRawPointer] = []
        for i in 0..<200 {
            let alignment = 1 << (i % 6)  // 1...32
            let size = (i * 37) % 300
            let p = arena.allocate(size, alignment: alignment)
            #expect(Int(bitPattern: p) % alignment == 0)
            // Write the whole range so a sanitizer or crash would show overlap/overrun.
            p.initializeMemory(as: UInt8.self, repeating: UInt8(truncatingIfNeeded: i), count: size)
            seen.append(p)
        }
        let big = arena.allocate(100_000, alignment: 8)
        big.initializeMemory(as: UInt8.self, repeating: 0xEE, count: 100_000)
        #expect(arena.memoryUsage >= 100_000)
        // Earlier allocations were not overwritten by later ones.
        for (i, p) in seen.enumerated() {
            let size = (i * 37) % 300
            if size > 0 { #expect(p.load(as: UInt8.self) == UInt8(truncatingIfNeeded: i)) }
        }
        // A small request after a large one still comes from the current block.
        let before = arena.memoryUsage
        _ = arena.allocate(8, alignment: 8)
        #expect(arena.memoryUsage - before <= 16 + 4096)
    }

    @Test func iteratorKeepsMemtableAlive() {
        func makeDetachedIterator() -> any InternalIterator {
            let m = Memtable(comparator: .bytewise)
            for i in 0..<100 { add(m, UInt64(i + 1), .value, [UInt8(i)], [UInt8(i), UInt8(i)]) }
            return m.makeIterator()
        }
        let it = makeDetachedIterator()
        var n = 0
        it.seekToFirst()
        while it.isValid {
            #expect(it.value.array == [UInt8(n), UInt8(n)])
            n += 1
            it.next()
        }
        #expect(n == 100)
    }

    /// One writer inserts while readers iterate: every pass must be sorted,
    /// made of complete entries, and contain everything an earlier pass saw.
    @Test func concurrentReadersSeeConsistentList() {
        let total = 100_000
        let readerCount = 3
        let m = Memtable(comparator: .bytewise)
        let writerDone = AtomicFlag()
        let failures = FailureLog()
        let finished = DispatchSemaphore(value: 0)

        let writer = Thread {
            var rng = SeededRandom(seed: 7)
            var key = [UInt8](repeating: 0, count: 16)
            var value = [UInt8](repeating: 0, count: 100)
            for i in 0..<total {
                ConcurrentEntry.fill(key: &key, value: &value, id: rng.next())
                add(m, UInt64(i + 1), .value, key, value)
            }
            _ = writerDone.setOnce()
            finished.signal()
        }
        var readers: [Thread] = []
        for r in 0..<readerCount {
            readers.append(Thread {
                ConcurrentEntry.readUntilDone(m, writerDone: writerDone, failures: failures, reader: r, total: total)
                finished.signal()
            })
        }
        for t in readers { t.start() }
        writer.start()
        for _ in 0...readerCount { finished.wait() }

        let problems = failures.all
        #expect(problems.isEmpty, "\(problems.prefix(5))")
        #expect(m.entryCount == total)
    }
}

/// Thread-safe collection of failure messages from worker threads.
private final class FailureLog: Sendable {
    private let messages = Locked<[String]>([])
    func record(_ s: String) { messages.withLock { if $0.count < 20 { $0.append(s) } } }
    var all: [String] { messages.withLock { $0 } }
}

/// Entries for the concurrency test: the key's first 8 bytes are a random
/// id (big-endian, so sorting keys sorts ids), the rest and the value are
/// derived from it, so a torn or half-written entry is detectable.
private enum ConcurrentEntry {
    static func fill(key: inout [UInt8], value: inout [UInt8], id: UInt64) {
        for i in 0..<8 { key[i] = UInt8(truncatingIfNeeded: id >> (56 - 8 * UInt64(i))) }
        for i in 8..<16 { key[i] = key[i - 8] ^ 0x5A }
        for i in 0..<value.count { value[i] = key[i % 16] &+ UInt8(truncatingIfNeeded: i) }
    }

    /// Returns the id, or nil if the entry is not one `fill` could produce.
    static func check(key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) -> UInt64? {
        guard key.count == 24, value.count == 100, kindOf(key) == .value else { return nil }
        var id: UInt64 = 0
        for i in 0..<8 { id = id << 8 | UInt64(key[i]) }
        for i in 8..<16 where key[i] != key[i - 8] ^ 0x5A { return nil }
        for i in 0..<100 where value[i] != key[i % 16] &+ UInt8(truncatingIfNeeded: i) { return nil }
        return id
    }

    static func readUntilDone(_ m: Memtable, writerDone: AtomicFlag, failures: FailureLog, reader: Int, total: Int) {
        var previous: [UInt64] = []
        var current: [UInt64] = []
        current.reserveCapacity(total)
        var passes = 0
        while true {
            // Read the flag before the pass so the pass after it is complete.
            let finalPass = writerDone.isSet
            let it = m.makeIterator()
            current.removeAll(keepingCapacity: true)
            it.seekToFirst()
            while it.isValid {
                guard let id = check(key: it.key, value: it.value) else {
                    failures.record("reader \(reader): malformed entry in pass \(passes)")
                    return
                }
                if let last = current.last, last >= id {
                    failures.record("reader \(reader): out of order in pass \(passes)")
                    return
                }
                current.append(id)
                it.next()
            }
            // Everything seen before must still be there: merge-check previous ⊆ current.
            var j = 0
            for id in previous {
                while j < current.count && current[j] < id { j += 1 }
                if j == current.count || current[j] != id {
                    failures.record("reader \(reader): key \(id) vanished in pass \(passes)")
                    return
                }
            }
            // A point lookup and a backward step agree with the pass.
            if let probe = current.dropFirst(current.count / 2).first {
                var key = [UInt8](repeating: 0, count: 16)
                var value = [UInt8](repeating: 0, count: 100)
                fill(key: &key, value: &value, id: probe)
                if get(m, key, at: maxSequenceNumber) != .found(value) {
                    failures.record("reader \(reader): get missed a visible key")
                }
                seek(it, makeInternalKey(key, maxSequenceNumber, .forSeek))
                it.prev()
                if current.count / 2 > 0 {
                    let before = it.isValid ? check(key: it.key, value: it.value) : nil
                    if before == nil || before! >= probe {
                        failures.record("reader \(reader): prev went wrong")
                    }
                }
            }
            swap(&previous, &current)
            passes += 1
            if finalPass {
                if previous.count != total {
                    failures.record("reader \(reader): final pass saw \(previous.count) of \(total)")
                }
                return
            }
        }
    }
}
