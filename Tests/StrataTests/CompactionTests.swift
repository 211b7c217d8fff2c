import Foundation
import Synchronization
import Testing
@testable import Strata

/// Leveled compaction: shape of the levels, what it keeps and drops, files
/// kept while readers need them, crash safety, write stalls.
@Suite(.offCooperativePool) struct CompactionTests {
    typealias Model = [[UInt8]: [UInt8]]

    static func smallOptions() -> Options {
        var o = Options()
        o.writeBufferSize = 32 << 10
        o.targetFileSizeBase = 64 << 10
        o.maxBytesForLevelBase = 256 << 10
        o.levelSizeMultiplier = 4
        o.blockSize = 1024
        o.blockCacheCapacity = 256 << 10
        o.commitMode = .memoryOnly
        return o
    }

    static func key(_ i: Int) -> [UInt8] { utf8("key" + String(100_000 + i)) }

    static func value(_ rng: inout SeededRandom, _ n: Int = 100) -> [UInt8] {
        (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
    }

    /// Every key and value, by forward scan.
    static func scan(_ db: Database, snapshot: Snapshot? = nil) throws -> [([UInt8], [UInt8])] {
        let it = try db.makeIterator(options: ReadOptions(snapshot: snapshot))
        var out: [([UInt8], [UInt8])] = []
        it.seekToFirst()
        while it.isValid { out.append((it.key, it.value)); it.next() }
        try it.checkStatus()
        return out
    }

    static func sorted(_ m: Model) -> [([UInt8], [UInt8])] {
        var model = SortedModel()
        for (k, v) in m { model[k] = v }
        return model.entries().map { ($0.key, $0.value) }
    }

    static func expectMatches(_ db: Database, _ model: Model, _ what: String, snapshot: Snapshot? = nil) throws {
        let got = try scan(db, snapshot: snapshot)
        let want = sorted(model)
        #expect(got.count == want.count, "\(what): \(got.count) keys, expected \(want.count)")
        #expect(got.map(\.0) == want.map(\.0), "\(what): keys")
        #expect(got.map(\.1) == want.map(\.1), "\(what): values")
        for (k, v) in want.prefix(200) {
            #expect(try db.get(k, options: ReadOptions(snapshot: snapshot)) == v, "\(what): get")
        }
    }

    /// Levels >= 1 are sorted with disjoint user-key ranges.
    static func expectLevelsDisjoint(_ v: Version) {
        for level in 1..<Version.numLevels {
            let files = v.files[level]
            for i in files.indices.dropFirst() {
                let ordered = v.comparator.compareUserKeysOf(files[i - 1].largest, files[i].smallest) < 0
                #expect(ordered, "level \(level): files #\(files[i - 1].number) and #\(files[i].number) overlap")
            }
        }
    }

    static func tableFiles(_ dir: String) -> Set<UInt64> {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        var out = Set<UInt64>()
        for n in names { if case .table(let num)? = DBPaths.parse(n) { out.insert(num) } }
        return out
    }

    static func tableBytes(_ dir: String) -> UInt64 {
        tableFiles(dir).reduce(0) { sum, n in
            let attrs = try? FileManager.default.attributesOfItem(atPath: DBPaths.table(dir, n))
            return sum + ((attrs?[.size] as? NSNumber)?.uint64Value ?? 0)
        }
    }

    @Test(arguments: [1, 2])
    func randomWorkloadFormsLevelsAndMatchesModel(compactionThreads: Int) throws {
        let dir = TempDir("compact-model")
        defer { dir.cleanup() }
        var options = Self.smallOptions()
        options.maxBackgroundCompactions = compactionThreads
        var db = try Database.open(at: dir.path, options: options)
        var rng = SeededRandom(seed: 7)
        var model = Model()
        for i in 0..<16_000 {
            let k = Self.key(Int(rng.next() % 4000))
            if rng.next() % 5 == 0 {
                try db.delete(k)
                model[k] = nil
            } else {
                let v = Self.value(&rng, 60 + Int(rng.next() % 80))
                try db.put(k, v)
                model[k] = v
            }
            if i % 4000 == 3999 { try Self.expectMatches(db, model, "during writes (\(i))") }
        }
        #expect(db.core.waitForBackgroundWork())
        let v = db.core.versions.current(0)
        Self.expectLevelsDisjoint(v)
        let deeper = (1..<Version.numLevels).filter { !v.files[$0].isEmpty }
        #expect(deeper.count >= 2, "levels with files: \(v.files.map(\.count))")
        #expect(v.files[0].count < options.level0FileNumCompactionTrigger)
        try Self.expectMatches(db, model, "after compactions")
        try db.close()
        db = try Database.open(at: dir.path, options: options)
        try Self.expectMatches(db, model, "after reopen")
        Self.expectLevelsDisjoint(db.core.versions.current(0))
        try db.close()
    }

    @Test func snapshotsAndIteratorsSurviveCompaction() throws {
        let dir = TempDir("compact-snap")
        defer { dir.cleanup() }
        var options = Self.smallOptions()
        options.level0FileNumCompactionTrigger = 100  // only compactRange compacts here
        options.level0SlowdownWritesTrigger = 200
        options.level0StopWritesTrigger = 300
        let db = try Database.open(at: dir.path, options: options)
        var rng = SeededRandom(seed: 11)
        var model = Model()
        for i in 0..<1500 {
            let v = Self.value(&rng)
            try db.put(Self.key(i), v)
            model[Self.key(i)] = v
        }
        try db.flush()
        var snap1: Snapshot? = db.snapshot()
        let model1 = model
        var iter1: Iterator? = try db.makeIterator()
        let pinned = Set(db.core.versions.current(0).files.flatMap { $0.map(\.number) })
        // A second iterator, half-way through its scan when compaction runs.
        var iter2: Iterator? = try db.makeIterator()
        iter2!.seekToFirst()
        var firstHalf: [[UInt8]] = []
        for _ in 0..<700 { firstHalf.append(iter2!.key); iter2!.next() }

        for i in stride(from: 0, to: 1500, by: 2) {
            try db.delete(Self.key(i))
            model[Self.key(i)] = nil
        }
        for i in stride(from: 1, to: 1500, by: 3) {
            let v = Self.value(&rng)
            try db.put(Self.key(i), v)
            model[Self.key(i)] = v
        }
        try db.flush()
        var snap2: Snapshot? = db.snapshot()
        let model2 = model
        for i in 0..<300 {
            try db.delete(Self.key(i))
            model[Self.key(i)] = nil
        }
        try db.compactRange(nil, nil)
        let v = db.core.versions.current(0)
        let levels = (0..<Version.numLevels).filter { !v.files[$0].isEmpty }
        #expect(levels.count == 1 && levels != [0], "levels after compactRange: \(v.files.map(\.count))")

        try Self.expectMatches(db, model, "latest")
        try Self.expectMatches(db, model1, "snapshot 1", snapshot: snap1)
        try Self.expectMatches(db, model2, "snapshot 2", snapshot: snap2)
        var got1: [[UInt8]] = []
        iter1!.seekToFirst()
        while iter1!.isValid { got1.append(iter1!.key); iter1!.next() }
        #expect(got1 == Self.sorted(model1).map(\.0), "iterator opened before compaction")
        var rest: [[UInt8]] = []
        while iter2!.isValid { rest.append(iter2!.key); iter2!.next() }
        #expect(firstHalf + rest == Self.sorted(model1).map(\.0), "iterator moving across compaction")

        // Inputs stay on disk while the iterators' versions need them.
        let replaced = pinned.subtracting(v.files.flatMap { $0.map(\.number) })
        #expect(!replaced.isEmpty)
        #expect(replaced.isSubset(of: Self.tableFiles(dir.path)), "files deleted under open iterators")

        iter1 = nil
        iter2 = nil
        snap1 = nil
        snap2 = nil
        var remaining = replaced
        let deadline = ContinuousClock.now + .seconds(10)
        while !remaining.isEmpty && ContinuousClock.now < deadline {
            Thread.sleep(forTimeInterval: 0.02)
            remaining = replaced.intersection(Self.tableFiles(dir.path))
        }
        #expect(remaining.isEmpty, "obsolete files never deleted: \(remaining)")
        try Self.expectMatches(db, model, "after release")
        try db.close()
    }

    @Test func compactRangeFreesDeletedSpace() throws {
        let dir = TempDir("compact-space")
        defer { dir.cleanup() }
        var options = Self.smallOptions()
        options.compression = .none
        let db = try Database.open(at: dir.path, options: options)
        var rng = SeededRandom(seed: 3)
        var model = Model()
        for round in 0..<2 {
            for i in 0..<3000 {
                let v = Self.value(&rng, 150)
                try db.put(Self.key(i), v)
                model[Self.key(i)] = v
            }
            if round == 0 { try db.flush() }
        }
        let snap = db.snapshot()  // keeps the deleted data until released
        for i in 0..<3000 where i % 10 != 0 {
            try db.delete(Self.key(i))
            model[Self.key(i)] = nil
        }
        try db.compactRange(nil, nil)
        #expect(try db.get(Self.key(1), options: ReadOptions(snapshot: snap)) != nil)
        _ = consume snap
        try db.compactRange(nil, nil)
        try Self.expectMatches(db, model, "after compactRange")
        let v = db.core.versions.current(0)
        #expect((0..<Version.numLevels).filter { !v.files[$0].isEmpty }.count == 1)
        let live = model.reduce(UInt64(0)) { $0 + UInt64($1.key.count + $1.value.count) }
        var bytes = Self.tableBytes(dir.path)
        let deadline = ContinuousClock.now + .seconds(10)
        while Double(bytes) >= 1.5 * Double(live) && ContinuousClock.now < deadline {
            Thread.sleep(forTimeInterval: 0.02)
            bytes = Self.tableBytes(dir.path)
        }
        #expect(Double(bytes) < 1.5 * Double(live), "tables hold \(bytes) bytes for \(live) live bytes")
        try db.close()
    }

    @Test func compactRangeOfPartOfTheKeys() throws {
        let dir = TempDir("compact-part")
        defer { dir.cleanup() }
        var options = Self.smallOptions()
        options.level0FileNumCompactionTrigger = 100
        options.level0SlowdownWritesTrigger = 200
        options.level0StopWritesTrigger = 300
        let db = try Database.open(at: dir.path, options: options)
        var rng = SeededRandom(seed: 5)
        var model = Model()
        for i in 0..<2000 {
            let v = Self.value(&rng)
            try db.put(Self.key(i), v)
            model[Self.key(i)] = v
            if i % 500 == 499 { try db.flush() }
        }
        try db.compactRange(Self.key(500), Self.key(999))
        let v = db.core.versions.current(0)
        #expect(!v.files[1].isEmpty)
        let l0 = v.overlappingFiles(level: 0, smallestUserKey: Self.key(500), largestUserKey: Self.key(999))
        #expect(l0.isEmpty, "level 0 still holds part of the range")
        try Self.expectMatches(db, model, "after partial compactRange")
        try db.close()
    }

    @Test func writesFinishUnderLevel0Stalls() throws {
        let dir = TempDir("compact-stall")
        defer { dir.cleanup() }
        var options = Self.smallOptions()
        options.writeBufferSize = 16 << 10
        options.level0FileNumCompactionTrigger = 2
        options.level0SlowdownWritesTrigger = 2
        options.level0StopWritesTrigger = 3
        let db = try Database.open(at: dir.path, options: options)
        let failures = Atomic<Int>(0)
        let finished = Atomic<Int>(0)
        let threads = 2
        let perThread = 2500
        let done = DispatchGroup()
        for t in 0..<threads {
            done.enter()
            Thread.detachNewThread {
                var rng = SeededRandom(seed: UInt64(t))
                for i in 0..<perThread {
                    do {
                        try db.put(Self.key(t * perThread + i), Self.value(&rng))
                    } catch {
                        failures.add(1, ordering: .relaxed)
                    }
                    finished.add(1, ordering: .relaxed)
                }
                done.leave()
            }
        }
        // A deadlock is writes that stop finishing, not a slow run (under a
        // sanitizer with the whole suite beside it this takes minutes): wait
        // as long as writes keep finishing, fail after 60 s without one.
        var seen = 0
        var idleSince = ContinuousClock.now
        while done.wait(timeout: .now() + 1) == .timedOut {
            let now = finished.load(ordering: .relaxed)
            if now != seen {
                seen = now
                idleSince = .now
            } else if ContinuousClock.now - idleSince > .seconds(60) {
                Issue.record("writers deadlocked: no write finished for 60 s (\(now) of \(threads * perThread) done)")
                break
            }
        }
        #expect(failures.load(ordering: .relaxed) == 0)
        #expect(db.core.waitForBackgroundWork())
        #expect(try Self.scan(db).count == threads * perThread)
        #expect(db.core.versions.current(0).files[0].count < options.level0StopWritesTrigger)
        try db.close()
    }

    // MARK: Crash at any step

    /// The shared fault-injecting file system over POSIX, with the
    /// operations of this test: count them, and fail every one after the
    /// next `n` (a crash at that step, as far as the database can tell).
    static func arm(_ fs: FaultInjectionFileSystem, _ n: Int?) {
        fs.clearFaults()
        if let n { fs.inject(FaultRule(Set(FileOperation.allCases), trigger: .fromCall(n + 1))) }
    }

    static func copyDirectory(_ from: String, _ to: String) throws {
        try FileManager.default.createDirectory(atPath: to, withIntermediateDirectories: true)
        for name in try FileManager.default.contentsOfDirectory(atPath: from) where name != "LOCK" {
            try FileManager.default.copyItem(atPath: from + "/" + name, toPath: to + "/" + name)
        }
    }

    @Test func crashAtAnyStepOfACompactionKeepsTheData() throws {
        let template = TempDir("compact-crash-template")
        defer { template.cleanup() }
        var options = Self.smallOptions()
        options.level0FileNumCompactionTrigger = 100
        options.level0SlowdownWritesTrigger = 200
        options.level0StopWritesTrigger = 300
        options.blockSize = 2048
        options.targetFileSizeBase = 8 << 10  // several outputs
        var rng = SeededRandom(seed: 21)
        var model = Model()
        do {
            let db = try Database.open(at: template.path, options: options)
            for i in 0..<300 {
                let v = Self.value(&rng, 40)
                try db.put(Self.key(i), v)
                model[Self.key(i)] = v
            }
            try db.compactRange(nil, nil)  // a level-1 base to merge into
            for round in 0..<3 {
                for i in stride(from: round, to: 300, by: 4) {
                    if i % 3 == 0 {
                        try db.delete(Self.key(i))
                        model[Self.key(i)] = nil
                    } else {
                        let v = Self.value(&rng, 40)
                        try db.put(Self.key(i), v)
                        model[Self.key(i)] = v
                    }
                }
                try db.flush()
            }
            #expect(db.core.versions.current(0).files[0].count == 3)
            try db.close()
        }

        // How many file-system operations one full compaction takes.
        let fs = FaultInjectionFileSystem(base: POSIXFileSystem())
        options.fileSystem = fs
        let probe = TempDir("compact-crash-probe")
        defer { probe.cleanup() }
        try Self.copyDirectory(template.path, probe.path)
        do {
            let db = try Database.open(at: probe.path, options: options)
            fs.resetCounts()
            try db.compactRange(nil, nil)
            let total = fs.operationCount()
            try db.close()
            #expect(total > 10)
            var plain = Options()
            plain.commitMode = .memoryOnly
            let check = try Database.open(at: probe.path, options: plain)
            try Self.expectMatches(check, model, "after an uninterrupted compaction")
            #expect(check.core.versions.current(0).files[0].isEmpty)
            try check.close()

            let step = max(1, total / 60)
            for n in stride(from: 0, through: total + 2, by: step) {
                let dir = TempDir("compact-crash-\(n)")
                defer { dir.cleanup() }
                try Self.copyDirectory(template.path, dir.path)
                Self.arm(fs, nil)
                do {
                    let db = try Database.open(at: dir.path, options: options)
                    Self.arm(fs, n)
                    try? db.compactRange(nil, nil)
                    try? db.close()
                }
                Self.arm(fs, nil)
                let reopened = try Database.open(at: dir.path, options: plain)
                try Self.expectMatches(reopened, model, "crash after \(n) of \(total) operations")
                try reopened.close()
            }
        }
    }
}

/// Range tombstones through compaction: covered entries are dropped, the
/// disk space comes back, snapshots keep what they saw.
@Suite(.offCooperativePool) struct CompactionRangeDeleteTests {
    @Test func deleteRangeThenCompactFreesSpaceAndKeepsSnapshots() throws {
        let dir = TempDir("cmp-rd")
        defer { dir.cleanup() }
        var o = Options()
        o.writeBufferSize = 64 << 10
        o.targetFileSizeBase = 64 << 10
        o.maxBytesForLevelBase = 256 << 10
        let db = try Database.open(at: dir.path, options: o)
        var rng = SeededRandom(seed: 5)
        var values: [[UInt8]] = []
        for i in 0..<4000 {
            values.append((0..<200).map { _ in UInt8(truncatingIfNeeded: rng.next()) })
            try db.put(utf8(String(format: "key%05d", i)), values[i])
        }
        try db.flush()
        try db.compactRange(nil, nil)
        let snap = db.snapshot()
        try db.deleteRange(from: utf8("key00100"), to: utf8("key03900"))
        try db.compactRange(nil, nil)
        // The snapshot still sees everything.
        #expect(try db.get(utf8("key02000"), options: ReadOptions(snapshot: snap)) == values[2000])
        #expect(try db.get(utf8("key02000")) == nil)
        #expect(try db.get(utf8("key00099")) == values[99])
        #expect(try db.get(utf8("key03900")) == values[3900])
        let withSnapshot = try tableBytes(dir.path)
        _ = consume snap
        try db.compactRange(nil, nil)
        let after = try tableBytes(dir.path)
        #expect(after * 5 < withSnapshot, "space not reclaimed: \(after) vs \(withSnapshot)")
        var keys = 0
        let it = try db.makeIterator()
        it.seekToFirst()
        while it.isValid { keys += 1; it.next() }
        #expect(keys == 200)
        try db.close()
        let again = try Database.open(at: dir.path, options: o)
        #expect(try again.get(utf8("key02000")) == nil)
        #expect(try again.get(utf8("key03999")) == values[3999])
        try again.close()
    }

    func tableBytes(_ path: String) throws -> UInt64 {
        // A background compaction may unlink an obsolete table between the
        // listing and the stat (deletion runs after `mu` is released): a
        // vanished file holds no bytes.
        try FileManager.default.contentsOfDirectory(atPath: path).filter { $0.hasSuffix(".sst") }.reduce(0) {
            $0 + (((try? FileManager.default.attributesOfItem(atPath: path + "/" + $1))?[.size] as? UInt64) ?? 0)
        }
    }
}
