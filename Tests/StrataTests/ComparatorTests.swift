import Testing
@testable import Strata

/// Per-family comparators: a reverse-bytewise and a custom family checked
/// against a sorted model through writes, range deletes, flushes,
/// compactions, bounded iteration both ways, seeks and reopens, next to an
/// unaffected byte-wise family; the comparator name's persistence (a
/// mismatched reopen fails, a table of another order is refused).
@Suite(.offCooperativePool) struct ComparatorTests {
    /// Shorter keys first, then byte-wise: decimal numbers without padding
    /// sort numerically. Equal only when byte-identical, as required.
    static let lengthThenBytes = Comparator(name: "test.length-then-bytes") { a, b in
        if a.count != b.count { return a.count < b.count ? -1 : 1 }
        for i in 0..<a.count where a[i] != b[i] { return a[i] < b[i] ? -1 : 1 }
        return 0
    }

    static func options(_ fs: FaultInjectionFileSystem) -> Options {
        var o = Options()
        o.fileSystem = fs
        o.writeBufferSize = 4 << 10
        o.blockSize = 256
        o.compression = .none
        o.level0FileNumCompactionTrigger = 2
        o.targetFileSizeBase = 2 << 10
        o.maxBytesForLevelBase = 8 << 10
        o.levelSizeMultiplier = 2
        o.logger.logLevel = .critical
        o.columnFamilyComparators = ["len": lengthThenBytes]
        return o
    }

    static func familyOptions(_ comparator: Comparator) -> ColumnFamilyOptions {
        ColumnFamilyOptions(compression: .none, blockSize: 128, writeBufferSize: 2 << 10, comparator: comparator)
    }

    /// A family's contents with its order, answering what the database should.
    /// The shared sorted model, in a family's key order.
    struct Model {
        let comparator: Comparator
        var entries: SortedModel

        init(comparator: Comparator) {
            self.comparator = comparator
            entries = SortedModel { comparator.compare($0, $1) < 0 }
        }

        func less(_ a: [UInt8], _ b: [UInt8]) -> Bool { entries.less(a, b) }

        /// Keys in `[lo, hi)` in the family's order.
        func keys(lo: [UInt8]?, hi: [UInt8]?) -> [[UInt8]] { entries.keys(lower: lo, upper: hi) }

        mutating func deleteRange(_ from: [UInt8], _ to: [UInt8]) { entries.removeRange(from: from, to: to) }
    }

    static func key(_ rng: inout SeededRandom) -> [UInt8] { utf8(String(rng.next() % 600)) }

    /// Two random keys ordered by `model`'s comparator.
    static func orderedPair(_ rng: inout SeededRandom, _ model: Model) -> ([UInt8], [UInt8]) {
        ordered(key(&rng), key(&rng), model)
    }

    static func ordered(_ a: [UInt8], _ b: [UInt8], _ model: Model) -> ([UInt8], [UInt8]) {
        model.less(b, a) ? (b, a) : (a, b)
    }

    /// Checks scans both ways, seeks and seekForPrev, with random bounds.
    static func checkIteration(_ db: Database, _ family: ColumnFamily?, _ model: Model, _ rng: inout SeededRandom,
                               _ context: String) throws {
        var lo: [UInt8]? = nil, hi: [UInt8]? = nil
        if rng.next() % 2 == 0 {
            let (a, b) = orderedPair(&rng, model)
            lo = rng.next() % 3 == 0 ? nil : a
            hi = rng.next() % 3 == 0 ? nil : b
        }
        let expected = model.keys(lo: lo, hi: hi)
        let it = try db.makeIterator(in: family, options: ReadOptions(lowerBound: lo, upperBound: hi))
        var forward: [[UInt8]] = []
        it.seekToFirst()
        while it.isValid {
            #expect(it.value == model.entries[it.key], "\(context): value of \(it.key)")
            forward.append(it.key)
            it.next()
        }
        try it.checkStatus()
        #expect(forward == expected, "\(context): forward scan in [\(lo.map { String(decoding: $0, as: UTF8.self) } ?? "-"), \(hi.map { String(decoding: $0, as: UTF8.self) } ?? "-"))")
        var backward: [[UInt8]] = []
        it.seekToLast()
        while it.isValid {
            backward.append(it.key)
            it.prev()
        }
        #expect(backward == expected.reversed(), "\(context): reverse scan")

        for _ in 0..<4 {
            let target = key(&rng)
            // seek: first key >= target (and >= lo), then two nexts.
            let from = expected.firstIndex { !model.less($0, target) } ?? expected.count
            it.seek(target)
            var got: [[UInt8]] = []
            while it.isValid && got.count < 3 { got.append(it.key); it.next() }
            #expect(got == Array(expected[from..<min(expected.count, from + 3)]), "\(context): seek \(target)")
            // seekForPrev: last key <= target, then a prev and a switch back forward.
            let last = expected.lastIndex { !model.less(target, $0) }
            it.seekForPrev(target)
            #expect((it.isValid ? it.key : nil) == last.map { expected[$0] }, "\(context): seekForPrev \(target)")
            if let last, it.isValid {
                it.prev()
                #expect((it.isValid ? it.key : nil) == (last > 0 ? expected[last - 1] : nil), "\(context): prev after seekForPrev")
                if it.isValid {
                    it.next()
                    #expect(it.isValid && it.key == expected[last], "\(context): next after prev")
                }
            }
        }
    }

    func modelRun(seed: UInt64) throws {
        var rng = SeededRandom(seed: seed)
        let fs = FaultInjectionFileSystem(seed: seed)
        let o = Self.options(fs)
        var db = try Database.open(at: "/db", options: o)
        _ = try db.createColumnFamily("rev", options: Self.familyOptions(.reverseBytewise))
        _ = try db.createColumnFamily("len", options: Self.familyOptions(Self.lengthThenBytes))
        let names = ["default", "rev", "len"]
        var models = [Model(comparator: .bytewise), Model(comparator: .reverseBytewise), Model(comparator: Self.lengthThenBytes)]
        func family(_ i: Int) -> ColumnFamily? { i == 0 ? nil : db.columnFamily(names[i])! }

        for step in 0..<2000 {
            let fi = Int(rng.next() % 3)
            let context = "seed \(seed) step \(step) family \(names[fi])"
            switch rng.next() % 100 {
            case 0..<55:
                let k = Self.key(&rng)
                if rng.next() % 5 == 0 {
                    try db.delete(k, in: family(fi))
                    models[fi].entries[k] = nil
                } else {
                    let v = utf8("s\(step)-" + String(repeating: "v", count: Int(rng.next() % 100)))
                    try db.put(k, v, in: family(fi))
                    models[fi].entries[k] = v
                }
            case 55..<58:
                // Mostly narrow ranges (numerically close keys), so data survives.
                let n = rng.next() % 600
                let other = rng.next() % 8 == 0 ? rng.next() % 600 : n + rng.next() % 15
                let (a, b) = Self.ordered(utf8(String(n)), utf8(String(other)), models[fi])
                try db.deleteRange(from: a, to: b, in: family(fi))
                models[fi].deleteRange(a, b)
            case 59..<75:
                let k = Self.key(&rng)
                #expect(try db.get(k, in: family(fi)) == models[fi].entries[k], "\(context): get \(k)")
            case 75..<85:
                try Self.checkIteration(db, family(fi), models[fi], &rng, context)
            case 85..<90:
                try db.flush()
            case 90..<96:
                if rng.next() % 2 == 0 {
                    try db.compactRange(nil, nil, in: family(fi))
                } else {
                    let (a, b) = Self.orderedPair(&rng, models[fi])
                    try db.compactRange(a, b, in: family(fi))
                }
            default:
                try db.close()
                db = try Database.open(at: "/db", options: o)
            }
        }
        for fi in 0..<3 {
            try Self.checkIteration(db, family(fi), models[fi], &rng, "seed \(seed) end \(names[fi])")
            for (k, v) in models[fi].entries.entries() { #expect(try db.get(k, in: family(fi)) == v, "seed \(seed) end: get \(k)") }
            // The run reached deeper levels, so level iterators, compaction
            // ranges and grandparents all ran in the family's order.
            let id = fi == 0 ? 0 : db.columnFamily(names[fi])!.id
            let version = db.core.versions.current(id)
            #expect(version.comparator == models[fi].comparator)
            #expect(version.files.dropFirst().contains { $0.count > 1 }, "seed \(seed): \(names[fi]) has no level with several files")
        }
        try db.close()
    }

    @Test(arguments: [UInt64(1), 2])
    func familiesMatchASortedModel(seed: UInt64) throws {
        try modelRun(seed: seed)
    }

    @Test func iterationFollowsTheFamilysOrder() throws {
        let fs = FaultInjectionFileSystem()
        let db = try Database.open(at: "/db", options: Self.options(fs))
        let rev = try db.createColumnFamily("rev", options: Self.familyOptions(.reverseBytewise))
        let len = try db.createColumnFamily("len", options: Self.familyOptions(Self.lengthThenBytes))
        let keys = ["7", "10", "100", "9", "a", "ab"].map(utf8)
        for k in keys {
            for f in [nil, rev, len] { try db.put(k, k, in: f) }
        }
        try db.flush()
        func scan(_ f: ColumnFamily?) throws -> [String] {
            let it = try db.makeIterator(in: f)
            var out: [String] = []
            it.seekToFirst()
            while it.isValid { out.append(String(decoding: it.key, as: UTF8.self)); it.next() }
            return out
        }
        #expect(try scan(nil) == ["10", "100", "7", "9", "a", "ab"])
        #expect(try scan(rev) == ["ab", "a", "9", "7", "100", "10"])
        #expect(try scan(len) == ["7", "9", "a", "10", "ab", "100"])
        // [from, to) is in the family's order: "9" down to "10" in reverse.
        try db.deleteRange(from: utf8("9"), to: utf8("10"), in: rev)
        #expect(try scan(rev) == ["ab", "a", "10"])
        // An empty range in the family's order deletes nothing.
        try db.deleteRange(from: utf8("10"), to: utf8("9"), in: len)
        #expect(try scan(len).count == 6)
        try db.close()
    }

    @Test func reopenWithAnotherComparatorFailsNamingBoth() throws {
        let fs = FaultInjectionFileSystem()
        var o = Self.options(fs)
        o.comparator = .reverseBytewise
        var db = try Database.open(at: "/db", options: o)
        _ = try db.createColumnFamily("rev", options: Self.familyOptions(.reverseBytewise))
        let len = try db.createColumnFamily("len", options: Self.familyOptions(Self.lengthThenBytes))
        try db.put(utf8("k"), utf8("v"), in: len)
        try db.close()

        func openError(_ change: (inout Options) -> Void) -> StrataError? {
            var bad = o
            change(&bad)
            do {
                let d = try Database.open(at: "/db", options: bad)
                try? d.close()
                return nil
            } catch let e as StrataError {
                return e
            } catch {
                return nil
            }
        }
        // The default family, created reverse, opened byte-wise.
        let e1 = openError { $0.comparator = .bytewise }
        #expect(e1?.kind == .invalidArgument)
        #expect(e1?.message.contains("strata.reverse-bytewise") == true && e1?.message.contains("strata.bytewise") == true)
        // A built-in family given another comparator.
        let e2 = openError { $0.columnFamilyComparators["rev"] = .bytewise }
        #expect(e2?.kind == .invalidArgument)
        #expect(e2?.message.contains("\"rev\"") == true && e2?.message.contains("strata.reverse-bytewise") == true)
        // A custom family whose comparator is not supplied.
        let e3 = openError { $0.columnFamilyComparators = [:] }
        #expect(e3?.kind == .invalidArgument)
        #expect(e3?.message.contains("test.length-then-bytes") == true)
        // A custom family given a custom comparator of another name.
        let other = Comparator(name: "test.other") { a, b in Self.lengthThenBytes.compare(a.array, b.array) }
        let e4 = openError { $0.columnFamilyComparators["len"] = other }
        #expect(e4?.kind == .invalidArgument)
        #expect(e4?.message.contains("test.other") == true && e4?.message.contains("test.length-then-bytes") == true)

        // Nothing was changed by the failed opens.
        db = try Database.open(at: "/db", options: o)
        #expect(try db.get(utf8("k"), in: db.columnFamily("len")) == utf8("v"))
        #expect(db.columnFamily("rev")?.state.comparator == .reverseBytewise)
        try db.close()
        let summary = try ManifestSummary.read(databaseAt: "/db", fileSystem: fs)
        #expect(summary.families.map(\.comparatorName) == ["strata.reverse-bytewise", "strata.reverse-bytewise", "test.length-then-bytes"])
    }

    @Test func aCheckpointKeepsTheComparators() throws {
        let dir = TempDir("cmp-ckpt")
        defer { dir.cleanup() }
        var o = Options()
        o.logger.logLevel = .critical
        o.columnFamilyComparators = ["len": Self.lengthThenBytes]
        let db = try Database.open(at: dir.file("db"), options: o)
        let rev = try db.createColumnFamily("rev", options: ColumnFamilyOptions(comparator: .reverseBytewise))
        let len = try db.createColumnFamily("len", options: ColumnFamilyOptions(comparator: Self.lengthThenBytes))
        for k in ["5", "40", "300"].map(utf8) {
            try db.put(k, k, in: rev)
            try db.put(k, k, in: len)
        }
        try db.flush()
        try db.createCheckpoint(at: dir.file("ckpt"))
        try db.close()
        let copy = try Database.open(at: dir.file("ckpt"), options: o)
        func scan(_ name: String) throws -> [String] {
            let it = try copy.makeIterator(in: copy.columnFamily(name))
            var out: [String] = []
            it.seekToFirst()
            while it.isValid { out.append(String(decoding: it.key, as: UTF8.self)); it.next() }
            return out
        }
        #expect(try scan("rev") == ["5", "40", "300"])
        #expect(try scan("len") == ["5", "40", "300"])
        try copy.close()
        var without = o
        without.columnFamilyComparators = [:]
        #expect(throws: StrataError.self) { try Database.open(at: dir.file("ckpt"), options: without) }
    }

    @Test func aDroppedCustomFamilyNeedsNoComparator() throws {
        let fs = FaultInjectionFileSystem()
        let o = Self.options(fs)
        var db = try Database.open(at: "/db", options: o)
        let len = try db.createColumnFamily("len", options: Self.familyOptions(Self.lengthThenBytes))
        try db.put(utf8("1"), utf8("x"), in: len)
        try db.flush()
        try db.dropColumnFamily(len)
        try db.close()
        var without = o
        without.columnFamilyComparators = [:]
        db = try Database.open(at: "/db", options: without)
        #expect(db.columnFamily("len") == nil)
        try db.close()
    }

    @Test func reservedAndEmptyComparatorNamesAreRefused() throws {
        let fs = FaultInjectionFileSystem()
        let db = try Database.open(at: "/db", options: Self.options(fs))
        let reserved = Comparator(name: "strata.mine") { a, b in compareBytes(a, b) }
        #expect(throws: StrataError.self) { try db.createColumnFamily("x", options: Self.familyOptions(reserved)) }
        let empty = Comparator(name: "") { a, b in compareBytes(a, b) }
        #expect(throws: StrataError.self) { try db.createColumnFamily("y", options: Self.familyOptions(empty)) }
        // A family listed in Options with another comparator cannot be created with this one.
        #expect(throws: StrataError.self) { try db.createColumnFamily("len", options: Self.familyOptions(.reverseBytewise)) }
        try db.close()
    }

    @Test func aTableOfAnotherOrderIsRefused() throws {
        func table(_ comparator: Comparator) throws -> [UInt8] {
            let sink = TableTestSink()
            let b = TableBuilder(file: sink, options: TableBuilderOptions(blockSize: 64, comparator: comparator))
            let keys = (0..<50).map { utf8(String($0)) }.sorted { comparator.compare($0, $1) < 0 }
            for (i, k) in keys.enumerated() {
                try makeInternalKey(k, SequenceNumber(i + 1), .value).withUnsafeBytes { ik in
                    try k.withUnsafeBytes { try b.add(ik, $0) }
                }
            }
            _ = try b.finish()
            return sink.bytes
        }
        let reverse = try table(.reverseBytewise)
        let open = { (bytes: [UInt8], c: Comparator) in
            try TableReader.open(file: TableTestSource(bytes), path: "t.sst", fileNumber: 1, cache: nil, comparator: c)
        }
        let e = #expect(throws: StrataError.self) { try open(reverse, .bytewise) }
        #expect(e?.kind == .corruption)
        #expect(e?.message.contains("strata.reverse-bytewise") == true)
        // In its own order every key is found, through unshortened index keys.
        let reader = try open(reverse, .reverseBytewise)
        #expect(reader.properties.comparatorName == "strata.reverse-bytewise")
        for i in 0..<50 {
            let k = utf8(String(i))
            let lookup = makeInternalKey(k, maxSequenceNumber, .forSeek)
            let r = try lookup.withUnsafeBytes { try reader.get($0, verifyChecksums: true, fillCache: false) }
            guard case .found(_, _, let v) = r else { Issue.record("key \(i) not found"); continue }
            #expect(v == k)
        }
        let custom = try table(Self.lengthThenBytes)
        #expect(throws: StrataError.self) { try open(custom, .reverseBytewise) }
        #expect(try open(custom, Self.lengthThenBytes).properties.numEntries == 50)
    }
}
