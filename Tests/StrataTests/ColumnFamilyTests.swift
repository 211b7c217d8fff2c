import Testing
@testable import Strata

/// Column families: lifecycle and persistence, isolation, per-family
/// options, the shared log (atomic cross-family batches through crashes, no
/// log pinned by a quiet family), drops under open iterators, properties,
/// and a model test over three families.
@Suite(.offCooperativePool) struct ColumnFamilyTests {
    static func options(_ fs: FaultInjectionFileSystem, bufferSize: Int = 64 << 10) -> Options {
        var o = Options()
        o.fileSystem = fs
        o.writeBufferSize = bufferSize
        o.logger.logLevel = .critical
        return o
    }

    static func logCount(_ fs: FaultInjectionFileSystem, _ path: String = "/db") throws -> Int {
        try fs.listDirectory(at: path).filter { $0.hasSuffix(".log") }.count
    }

    static func tableNumbers(_ fs: FaultInjectionFileSystem, _ path: String = "/db") throws -> Set<UInt64> {
        Set(try fs.listDirectory(at: path).compactMap { name -> UInt64? in
            if case .table(let n)? = DBPaths.parse(name) { return n }
            return nil
        })
    }

    @Test func createListDropAndPersistAcrossReopens() throws {
        let fs = FaultInjectionFileSystem()
        let o = Self.options(fs)
        do {
            let db = try Database.open(at: "/db", options: o)
            #expect(db.columnFamilies.map(\.name) == ["default"])
            let a = try db.createColumnFamily("a")
            let b = try db.createColumnFamily("b")
            #expect((a.id, b.id) == (1, 2))
            #expect(db.columnFamilies.map(\.name) == ["default", "a", "b"])
            #expect(db.columnFamily("b") === b)
            #expect(db.columnFamily("nope") == nil)
            let dup = #expect(throws: StrataError.self) { try db.createColumnFamily("a") }
            #expect(dup?.kind == .invalidArgument)
            let dropDefault = #expect(throws: StrataError.self) { try db.dropColumnFamily(db.defaultColumnFamily) }
            #expect(dropDefault?.kind == .invalidArgument)
            try db.put(utf8("k"), utf8("in-b"), in: b)
            try db.dropColumnFamily(a)
            #expect(a.isDropped)
            #expect(db.columnFamilies.map(\.name) == ["default", "b"])
            let twice = #expect(throws: StrataError.self) { try db.dropColumnFamily(a) }
            #expect(twice?.kind == .invalidArgument)
            try db.close()
        }
        do {
            let db = try Database.open(at: "/db", options: o)
            #expect(db.columnFamilies.map(\.name) == ["default", "b"])
            let b = try #require(db.columnFamily("b"))
            #expect(b.id == 2)
            #expect(try db.get(utf8("k"), in: b) == utf8("in-b"))
            // Ids are never reused, not even those of dropped families.
            let c = try db.createColumnFamily("c")
            #expect(c.id == 3)
            // A name may come back after a drop, as a new family.
            let a = try db.createColumnFamily("a")
            #expect(a.id == 4)
            try db.put(utf8("k"), utf8("in-c"), in: c)
            try db.dropColumnFamily(b)
            try db.close()
        }
        do {
            let db = try Database.open(at: "/db", options: o)
            #expect(db.columnFamilies.map(\.name) == ["default", "c", "a"])
            #expect(db.columnFamilies.map(\.id) == [0, 3, 4])
            let c = try #require(db.columnFamily("c"))
            #expect(try db.get(utf8("k"), in: c) == utf8("in-c"))
            #expect(try db.get(utf8("k"), in: db.columnFamily("a")) == nil)
            #expect(try db.get(utf8("k")) == nil)
            let b = try db.createColumnFamily("b")
            #expect(b.id == 5)
            try db.close()
        }
    }

    @Test func sameKeyInTwoFamiliesIsIsolated() throws {
        let fs = FaultInjectionFileSystem()
        let db = try Database.open(at: "/db", options: Self.options(fs))
        let m = try db.createColumnFamily("messages")
        try db.put(utf8("k"), utf8("default"))
        try db.put(utf8("k"), utf8("messages"), in: m)
        try db.put(utf8("only-m"), utf8("x"), in: m)
        #expect(try db.get(utf8("k")) == utf8("default"))
        #expect(try db.get(utf8("k"), in: m) == utf8("messages"))
        #expect(try db.get(utf8("only-m")) == nil)
        try db.delete(utf8("k"), in: m)
        #expect(try db.get(utf8("k")) == utf8("default"))
        #expect(try db.get(utf8("k"), in: m) == nil)
        try db.flush()
        #expect(try db.get(utf8("k")) == utf8("default"))
        #expect(try db.get(utf8("k"), in: m) == nil)
        let it = try db.makeIterator(in: m)
        it.seekToFirst()
        var keys: [[UInt8]] = []
        while it.isValid { keys.append(it.key); it.next() }
        #expect(keys == [utf8("only-m")])
        // Entries, not live keys: put k, put only-m, delete k.
        #expect(db.property("strata.estimate-num-keys", in: m) == "3")
        try db.close()
    }

    @Test func optionsAreRestoredOnReopen() throws {
        let fs = FaultInjectionFileSystem()
        let o = Self.options(fs)
        let custom = ColumnFamilyOptions(compression: .none, blockSize: 1024, bloomBitsPerKey: 0, writeBufferSize: 8 << 10)
        do {
            let db = try Database.open(at: "/db", options: o)
            let f = try db.createColumnFamily("custom", options: custom)
            #expect(f.options == custom)
            #expect(db.defaultColumnFamily.options.writeBufferSize == o.writeBufferSize)
            let bad = #expect(throws: StrataError.self) {
                try db.createColumnFamily("bad", options: ColumnFamilyOptions(blockSize: 0))
            }
            #expect(bad?.kind == .invalidArgument)
            for i in 0..<200 { try db.put(utf8("key\(i)"), Array(repeating: 7, count: 100), in: f) }
            try db.close()
        }
        let db = try Database.open(at: "/db", options: o)
        let f = try #require(db.columnFamily("custom"))
        #expect(f.options == custom)
        #expect(try db.get(utf8("key199"), in: f) == Array(repeating: 7, count: 100))
        // The family's own write buffer (8 KiB) made it flush on its own:
        // 200 × ~110 bytes of repetitive values, stored uncompressed.
        let files = db.core.versions.current(f.id).files.joined()
        #expect(!files.isEmpty)
        #expect(files.reduce(0) { $0 + $1.size } > 20_000)
        try db.close()
    }

    @Test func manifestEncodesFamilyOptions() throws {
        var e = VersionEdit()
        e.columnFamily = 5
        e.addColumnFamily = "q"
        e.columnFamilyOptions = ColumnFamilyOptions(compression: .none, blockSize: 777, bloomBitsPerKey: 3, writeBufferSize: 12345)
        let bytes = e.encode()
        #expect(bytes[1] == 2)  // written as format 2 only because of the options
        #expect(try VersionEdit(decoding: bytes, path: "M", offset: 0) == e)
        var plain = VersionEdit()
        plain.logNumber = 3
        #expect(plain.encode()[1] == 1)
        var orphan = VersionEdit()
        orphan.columnFamilyOptions = ColumnFamilyOptions()
        #expect(throws: StrataError.self) { try VersionEdit(decoding: orphan.encode(), path: "M", offset: 0) }
    }

    @Test func droppedAndForeignFamiliesAreRejected() throws {
        let fs = FaultInjectionFileSystem()
        let db = try Database.open(at: "/db", options: Self.options(fs))
        let other = try Database.open(at: "/other", options: Self.options(fs))
        let foreign = try other.createColumnFamily("f")
        let f = try db.createColumnFamily("f")
        #expect(foreign.id == f.id)
        let e0 = #expect(throws: StrataError.self) { try db.put(utf8("k"), utf8("v"), in: foreign) }
        #expect(e0?.kind == .invalidArgument)
        #expect(throws: StrataError.self) { try db.get(utf8("k"), in: foreign) }

        try db.dropColumnFamily(f)
        let e1 = #expect(throws: StrataError.self) { try db.put(utf8("k"), utf8("v"), in: f) }
        #expect(e1?.kind == .invalidArgument)
        var batch = WriteBatch()
        batch.put(utf8("a"), utf8("1"))
        batch.put(utf8("b"), utf8("2"), in: f)
        let e2 = #expect(throws: StrataError.self) { try db.write(batch) }
        #expect(e2?.kind == .invalidArgument)
        #expect(try db.get(utf8("a")) == nil)  // nothing of the rejected batch was applied
        #expect(throws: StrataError.self) { try db.get(utf8("k"), in: f) }
        #expect(throws: StrataError.self) { try db.makeIterator(in: f) }
        #expect(throws: StrataError.self) { try db.compactRange(nil, nil, in: f) }
        #expect(db.property("strata.num-files-at-level0", in: f) == nil)
        try other.close()
        try db.close()
    }

    @Test func dropWithOpenIteratorKeepsItsDataUntilReleased() throws {
        let fs = FaultInjectionFileSystem()
        let db = try Database.open(at: "/db", options: Self.options(fs))
        let f = try db.createColumnFamily("doomed")
        for i in 0..<100 { try db.put(utf8("k\(1000 + i)"), utf8("v\(i)"), in: f) }
        try db.flush()
        for i in 0..<50 { try db.put(utf8("k\(2000 + i)"), utf8("w\(i)"), in: f) }  // memtable data too
        let familyFiles = Set(db.core.versions.current(f.id).files.joined().map(\.number))
        #expect(!familyFiles.isEmpty)
        do {
            let it = try db.makeIterator(in: f)
            try db.dropColumnFamily(f)
            #expect(db.columnFamily("doomed") == nil)
            #expect(familyFiles.isSubset(of: try Self.tableNumbers(fs)))
            var n = 0
            it.seekToFirst()
            while it.isValid { n += 1; it.next() }
            try it.checkStatus()
            #expect(n == 150)
        }
        // The iterator is gone: the next sweep deletes the family's tables.
        try db.put(utf8("x"), utf8("y"))
        try db.flush()
        #expect(try Self.tableNumbers(fs).isDisjoint(with: familyFiles))
        try db.close()
        let reopened = try Database.open(at: "/db", options: Self.options(fs))
        #expect(reopened.columnFamilies.map(\.name) == ["default"])
        #expect(try reopened.get(utf8("x")) == utf8("y"))
        try reopened.close()
    }

    @Test func quietFamilyDoesNotPinOldLogs() throws {
        let fs = FaultInjectionFileSystem()
        let db = try Database.open(at: "/db", options: Self.options(fs, bufferSize: 8 << 10))
        let quiet = try db.createColumnFamily("quiet")
        try db.put(utf8("q"), utf8("1"), in: quiet)
        for round in 0..<20 {
            for i in 0..<20 { try db.put(utf8("r\(round)-\(i)"), Array(repeating: UInt8(i), count: 100)) }
            try db.flush()
        }
        #expect(try Self.logCount(fs) <= 2)
        #expect(db.core.versions.logNumber(quiet.id) == db.core.versions.logNumber(0))
        try db.close()
        let reopened = try Database.open(at: "/db", options: Self.options(fs))
        #expect(try reopened.get(utf8("q"), in: reopened.columnFamily("quiet")) == utf8("1"))
        try reopened.close()
    }

    // MARK: cross-family atomicity through crashes

    /// Writes one batch spanning three families (and a sentinel before it),
    /// runs `between`, crashes, loses power, reopens, and returns which of
    /// the batch's keys survived.
    static func crashAfterBatch(sync: Bool, torn: Bool = false, seed: UInt64 = 1,
                                between: (Database, [ColumnFamily]) throws -> Void) throws -> [Bool] {
        let fs = FaultInjectionFileSystem(seed: seed)
        let o = options(fs)
        var db: Database? = try Database.open(at: "/db", options: o)
        let a = try db!.createColumnFamily("a")
        let b = try db!.createColumnFamily("b")
        try db!.put(utf8("sentinel"), utf8("s"), options: WriteOptions(commitMode: .syncDurable))
        var batch = WriteBatch()
        batch.put(utf8("k0"), utf8("v0"))
        batch.put(utf8("k1"), utf8("v1"), in: a)
        batch.delete(utf8("sentinel"))
        batch.put(utf8("k2"), utf8("v2"), in: b)
        try db!.write(batch, options: WriteOptions(commitMode: sync ? .syncDurable : .asyncDurable(groupWindow: .seconds(3600))))
        try between(db!, [db!.defaultColumnFamily, a, b])
        fs.crash()
        try? db!.close()
        db = nil
        try fs.simulatePowerLoss(tornWrites: torn)
        fs.clearFaults()
        let reopened = try Database.open(at: "/db", options: o)
        defer { try? reopened.close() }
        let fa = try #require(reopened.columnFamily("a"))
        let fb = try #require(reopened.columnFamily("b"))
        let got = [
            try reopened.get(utf8("k0")) == utf8("v0"),
            try reopened.get(utf8("k1"), in: fa) == utf8("v1"),
            try reopened.get(utf8("sentinel")) == nil,
            try reopened.get(utf8("k2"), in: fb) == utf8("v2"),
        ]
        return got
    }

    @Test func crossFamilyBatchIsAtomicThroughCrashes() throws {
        // Synced, crash before any flush: all of it, replayed from the log.
        #expect(try Self.crashAfterBatch(sync: true) { _, _ in } == [true, true, true, true])
        // Not synced: the log record is lost or torn away, whole.
        for seed in 1...8 as ClosedRange<UInt64> {
            let got = try Self.crashAfterBatch(sync: false, torn: true, seed: seed) { _, _ in }
            #expect(got == [true, true, true, true] || got == [false, false, false, false], "seed \(seed): \(got)")
        }
        // Flushed completely: all of it, from the tables.
        #expect(try Self.crashAfterBatch(sync: true) { db, _ in try db.flush() } == [true, true, true, true])
    }

    @Test func crossFamilyBatchSurvivesACrashBetweenFamilyFlushes() throws {
        // The second MANIFEST sync of the flush fails: family "default" is
        // recorded with the new log number, "a" and "b" are not, so recovery
        // must take "default"'s part from its table and the others' from
        // the old log.
        let got = try Self.crashAfterBatch(sync: true) { db, families in
            let fs = db.options.fileSystem as! FaultInjectionFileSystem
            fs.inject(FaultRule([.sync], trigger: .fromCall(2), pathContains: "MANIFEST"))
            #expect(throws: StrataError.self) { try db.flush() }
            let v = db.core.versions
            #expect(v.logNumber(0) > v.logNumber(families[1].id), "the crash is not between the families' flushes")
            #expect(v.current(0).files[0].count == 1)
            #expect(v.current(families[1].id).files[0].isEmpty)
        }
        #expect(got == [true, true, true, true])
    }

    // MARK: properties, compaction

    @Test func propertiesAndCompactionArePerFamily() throws {
        let fs = FaultInjectionFileSystem()
        var o = Self.options(fs)
        o.level0FileNumCompactionTrigger = 100
        let db = try Database.open(at: "/db", options: o)
        let f = try db.createColumnFamily("f")
        for round in 0..<3 {
            for i in 0..<10 { try db.put(utf8("k\(i)"), utf8("r\(round)"), in: f) }
            try db.flush()
        }
        #expect(db.property("strata.num-files-at-level0", in: f) == "3")
        #expect(db.property("strata.num-files-at-level0") == "0")
        #expect(db.property("strata.estimate-num-keys", in: f) == "30")
        #expect(db.property("strata.estimate-num-keys") == "0")
        try db.compactRange(nil, nil, in: f)
        #expect(db.property("strata.num-files-at-level0", in: f) == "0")
        #expect(db.property("strata.num-files-at-level1", in: f) == "1")
        #expect(db.property("strata.estimate-num-keys", in: f) == "10")
        #expect(try db.get(utf8("k3"), in: f) == utf8("r2"))
        try db.close()
    }

    @Test func automaticCompactionRunsInEachFamily() throws {
        let fs = FaultInjectionFileSystem()
        var o = Self.options(fs)
        o.level0FileNumCompactionTrigger = 2
        let db = try Database.open(at: "/db", options: o)
        let f = try db.createColumnFamily("f")
        for round in 0..<6 {
            for i in 0..<10 { try db.put(utf8("k\(i)"), utf8("r\(round)"), in: f) }
            try db.flush()
        }
        #expect(db.core.waitForBackgroundWork())
        let v = db.core.versions.current(f.id)
        #expect(v.files[0].count < 2)
        #expect(!v.files[1].isEmpty)
        #expect(try db.get(utf8("k9"), in: f) == utf8("r5"))
        try db.close()
    }

    @Test func manifestSummaryListsFamiliesLevelsAndFiles() throws {
        let fs = FaultInjectionFileSystem()
        let db = try Database.open(at: "/db", options: Self.options(fs))
        let custom = ColumnFamilyOptions(compression: .none, blockSize: 2048, bloomBitsPerKey: 5, writeBufferSize: 1 << 20)
        let m = try db.createColumnFamily("messages", options: custom)
        let gone = try db.createColumnFamily("gone")
        try db.dropColumnFamily(gone)
        try db.put(utf8("a"), utf8("1"), in: m)
        try db.put([0, 255], utf8("2"), in: m)
        try db.flush()
        let s = try ManifestSummary.read(databaseAt: "/db", fileSystem: fs)
        #expect(s.families.map(\.name) == ["default", "messages"])
        #expect(s.families.map(\.id) == [0, 1])
        #expect(s.families[0].options == nil)
        #expect(s.families[1].options == custom)
        #expect(s.maxColumnFamily == 2)
        #expect(s.lastSequence == 2)
        #expect(s.families[0].levels.joined().isEmpty)
        let files = s.families[1].levels[0]
        #expect(files.count == 1)
        #expect(files.first?.smallestKey == [0, 255])
        #expect(files.first?.smallestSequence == 2)
        #expect(files.first?.largestKey == utf8("a"))
        #expect(files.first?.entries == 2)
        #expect(s.families[1].logNumber == s.families[0].logNumber)
        #expect(s.nextFileNumber > files[0].number)
        try db.close()
    }

    @Test func checkpointKeepsFamiliesAndTheirOptions() throws {
        // On disk: checkpoints rename a directory into place.
        let dir = TempDir("cf-checkpoint")
        defer { dir.cleanup() }
        var o = Options()
        o.logger.logLevel = .critical
        let db = try Database.open(at: dir.file("db"), options: o)
        let custom = ColumnFamilyOptions(compression: .none, blockSize: 512, bloomBitsPerKey: 0, writeBufferSize: 1 << 20)
        let m = try db.createColumnFamily("messages", options: custom)
        try db.put(utf8("flushed"), utf8("1"), in: m)
        try db.flush()
        var batch = WriteBatch()
        batch.put(utf8("logged"), utf8("2"), in: m)
        batch.put(utf8("logged"), utf8("3"))
        try db.write(batch, options: WriteOptions(commitMode: .syncDurable))
        try db.createCheckpoint(at: dir.file("ckpt"))
        try db.close()
        let copy = try Database.open(at: dir.file("ckpt"), options: o)
        let cm = try #require(copy.columnFamily("messages"))
        #expect(cm.options == custom)
        #expect(try copy.get(utf8("flushed"), in: cm) == utf8("1"))
        #expect(try copy.get(utf8("logged"), in: cm) == utf8("2"))
        #expect(try copy.get(utf8("logged")) == utf8("3"))
        try copy.close()
    }

    // MARK: model

    @Test(arguments: [1, 2, 3] as [UInt64])
    func modelAcrossThreeFamilies(seed: UInt64) throws {
        var rng = SeededRandom(seed: seed)
        let fs = FaultInjectionFileSystem(seed: seed)
        var o = Self.options(fs, bufferSize: 4 << 10)
        o.level0FileNumCompactionTrigger = 3
        var db = try Database.open(at: "/db", options: o)
        _ = try db.createColumnFamily("one", options: ColumnFamilyOptions(compression: .none, blockSize: 256, writeBufferSize: 2 << 10))
        _ = try db.createColumnFamily("two", options: ColumnFamilyOptions(bloomBitsPerKey: 0, writeBufferSize: 16 << 10))
        let names = ["default", "one", "two"]
        var models: [[[UInt8]: [UInt8]]] = [[:], [:], [:]]
        func family(_ i: Int) -> ColumnFamily { db.columnFamily(names[i])! }

        for step in 0..<1500 {
            switch rng.next() % 100 {
            case 0..<60:
                var batch = WriteBatch()
                var changes: [(Int, [UInt8], [UInt8]?)] = []
                for _ in 0..<(1 + Int(rng.next() % 4)) {
                    let fi = Int(rng.next() % 3)
                    let k = utf8("key\(rng.next() % 150)")
                    if rng.next() % 4 == 0 {
                        batch.delete(k, in: family(fi))
                        changes.append((fi, k, nil))
                    } else {
                        let v = utf8("s\(step)-f\(fi)")
                        batch.put(k, v, in: family(fi))
                        changes.append((fi, k, v))
                    }
                }
                try db.write(batch)
                for (fi, k, v) in changes { models[fi][k] = v }
            case 60..<80:
                let fi = Int(rng.next() % 3)
                let k = utf8("key\(rng.next() % 150)")
                #expect(try db.get(k, in: family(fi)) == models[fi][k], "seed \(seed) step \(step)")
            case 80..<88:
                let fi = Int(rng.next() % 3)
                let it = try db.makeIterator(in: family(fi))
                it.seekToFirst()
                var got: [[UInt8]: [UInt8]] = [:]
                while it.isValid { got[it.key] = it.value; it.next() }
                try it.checkStatus()
                #expect(got == models[fi], "seed \(seed) step \(step): scan of \(names[fi])")
            case 88..<92:
                try db.flush()
            case 92..<96:
                let fi = Int(rng.next() % 3)
                try db.compactRange(nil, nil, in: family(fi))
            default:
                try db.close()
                db = try Database.open(at: "/db", options: o)
            }
        }
        for fi in 0..<3 {
            for (k, v) in models[fi] { #expect(try db.get(k, in: family(fi)) == v) }
        }
        try db.close()
    }
}
