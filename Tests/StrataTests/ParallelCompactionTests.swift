import Foundation
import Synchronization
import Testing
@testable import Strata

/// Several compaction threads: jobs really overlap, never share a file,
/// keep levels disjoint, and lose nothing under concurrent writers,
/// readers and `compactRange`.
@Suite(.offCooperativePool) struct ParallelCompactionTests {
    typealias Model = [[UInt8]: [UInt8]]

    static func options(threads: Int) -> Options {
        var o = CompactionTests.smallOptions()
        o.maxBackgroundCompactions = threads
        o.writeBufferSize = 16 << 10
        o.targetFileSizeBase = 16 << 10
        o.maxBytesForLevelBase = 64 << 10
        o.levelSizeMultiplier = 3
        return o
    }

    static func key(_ writer: Int, _ i: Int) -> [UInt8] { utf8("w\(writer)-" + String(100_000 + i)) }

    /// A value that names its key, so a reader can tell a value from another key's.
    static func value(_ key: [UInt8], _ rng: inout SeededRandom) -> [UInt8] {
        key + [0x3D] + (0..<(40 + Int(rng.next() % 80))).map { _ in UInt8(truncatingIfNeeded: rng.next() | 1) }
    }

    static func jobStats(_ db: Database) -> (maxConcurrent: Int, overlapping: Int, shared: Int) {
        db.core.mu.withHeld { held in
            let j = db.core.compactions.state(held).jobs
            return (j.maxConcurrentJobs, j.overlappingStarts, j.sharedInputStarts)
        }
    }

    @Test func concurrentJobsStayDisjointAndLoseNothing() throws {
        let dir = TempDir("parallel-compaction")
        defer { dir.cleanup() }
        let options = Self.options(threads: 3)
        let db = try Database.open(at: dir.path, options: options)

        // Keys written once before the concurrent phase: always readable.
        var rng = SeededRandom(seed: 3)
        var stable = Model()
        for i in 0..<500 {
            let k = Self.key(9, i)
            let v = Self.value(k, &rng)
            try db.put(k, v)
            stable[k] = v
        }

        let stableModel = stable
        let writers = 2
        let stop = Atomic<Bool>(false)
        let doneWriters = Atomic<Int>(0)
        let failures = Locked<[String]>([])
        let models = Locked<[Model]>(Array(repeating: Model(), count: writers))
        let group = DispatchGroup()
        for w in 0..<writers {
            DedicatedThreads.shared.run(in: group) {
                var rng = SeededRandom(seed: UInt64(100 + w))
                var model = Model()
                var ops = 0
                do {
                    // A fixed amount of work: whether two jobs overlap here
                    // depends on scheduling, so it is not what this test
                    // asserts (CompactionPickerComponentTests.compactionControlClashes
                    // covers which jobs may run together).
                    while ops < 8_000 {
                        let k = Self.key(w, Int(rng.next() % 3000))
                        if rng.next() % 6 == 0 {
                            try db.delete(k)
                            model[k] = nil
                        } else {
                            let v = Self.value(k, &rng)
                            try db.put(k, v)
                            model[k] = v
                        }
                        ops += 1
                    }
                } catch {
                    failures.withLock { $0.append("writer \(w): \(error)") }
                }
                if doneWriters.add(1, ordering: .relaxed).newValue == writers { stop.store(true, ordering: .relaxed) }
                models.withLock { $0[w] = model }
            }
        }
        // A writer-side compactRange over part of the keys while jobs run.
        DedicatedThreads.shared.run(in: group) {
            do {
                while !stop.load(ordering: .relaxed) {
                    try db.compactRange(Self.key(0, 500), Self.key(1, 1500))
                    Thread.sleep(forTimeInterval: 0.05)  // throttle only; nothing depends on it
                }
            } catch {
                failures.withLock { $0.append("compactRange: \(error)") }
            }
        }
        // Readers: stable keys always found; scans ordered, values match their keys.
        DedicatedThreads.shared.run(in: group) {
            var rng = SeededRandom(seed: 77)
            let stableKeys = Array(stableModel.keys)
            do {
                while !stop.load(ordering: .relaxed) {
                    for _ in 0..<200 {
                        let k = stableKeys[Int(rng.next() % UInt64(stableKeys.count))]
                        if try db.get(k) != stableModel[k] { failures.withLock { $0.append("stable key lost") } }
                    }
                    let it = try db.makeIterator()
                    var previous: [UInt8]?
                    it.seekToFirst()
                    while it.isValid {
                        let k = it.key
                        if let p = previous, !p.lexicographicallyPrecedes(k) { failures.withLock { $0.append("scan out of order") } }
                        if !it.value.starts(with: k + [0x3D]) { failures.withLock { $0.append("value of another key") } }
                        previous = k
                        it.next()
                    }
                    try it.checkStatus()
                    CompactionTests.expectLevelsDisjoint(db.core.versions.current(0))
                }
            } catch {
                failures.withLock { $0.append("reader: \(error)") }
            }
        }
        group.wait()
        #expect(failures.withLock { $0 } == [])
        #expect(db.core.waitForBackgroundWork())

        let stats = Self.jobStats(db)
        #expect(stats.shared == 0, "jobs running together shared an input file")
        #expect(db.property("strata.num-running-compactions") == "0")
        let report = db.property("strata.stats") ?? ""
        #expect(report.contains("(0 running now, at most \(stats.maxConcurrent) at once on 3 threads)"), "\(report)")

        var model = stable
        for m in models.withLock({ $0 }) { model.merge(m) { a, _ in a } }
        CompactionTests.expectLevelsDisjoint(db.core.versions.current(0))
        try CompactionTests.expectMatches(db, model, "after the concurrent phase")

        // compactRange still takes everything to one level.
        try db.compactRange(nil, nil)
        let v = db.core.versions.current(0)
        let levels = (0..<Version.numLevels).filter { !v.files[$0].isEmpty }
        #expect(levels.count == 1 && levels != [0], "levels after compactRange: \(v.files.map(\.count))")
        try db.close()

        let reopened = try Database.open(at: dir.path, options: options)
        try CompactionTests.expectMatches(reopened, model, "after reopen")
        CompactionTests.expectLevelsDisjoint(reopened.core.versions.current(0))
        try reopened.close()
    }

    @Test func oneThreadRunsOneJobAtATime() throws {
        let dir = TempDir("serial-compaction")
        defer { dir.cleanup() }
        let db = try Database.open(at: dir.path, options: Self.options(threads: 1))
        var rng = SeededRandom(seed: 5)
        for i in 0..<12_000 {
            let k = Self.key(0, Int(rng.next() % 3000))
            try db.put(k, Self.value(k, &rng))
            _ = i
        }
        #expect(db.core.waitForBackgroundWork())
        let stats = Self.jobStats(db)
        #expect(stats.maxConcurrent == 1)
        #expect(stats.overlapping == 0)
        try db.close()
    }
}
