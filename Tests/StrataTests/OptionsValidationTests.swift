import Testing
@testable import Strata

/// `Options.validated()`: every out-of-range option is a clear
/// `.invalidArgument` at open (never a trap later), the documented clamps
/// are applied in that one place, and the default family's options are
/// checked like any family's.
@Suite(.offCooperativePool) struct OptionsValidationTests {
    static func opening(_ change: (inout Options) -> Void) -> StrataError? {
        var o = Options()
        o.fileSystem = InMemoryFileSystem()
        o.logger.logLevel = .warning
        change(&o)
        do {
            let db = try Database.open(at: "/v", options: o)
            try db.close()
            return nil
        } catch let e as StrataError {
            return e
        } catch {
            Issue.record("unexpected error \(error)")
            return nil
        }
    }

    @Test(arguments: [
        ("writeBufferSize", { @Sendable (o: inout Options) in o.writeBufferSize = 0 }),
        ("blockSize", { @Sendable (o: inout Options) in o.blockSize = 0 }),
        ("blockSize", { @Sendable (o: inout Options) in o.blockSize = (1 << 30) + 1 }),
        ("bloomBitsPerKey", { @Sendable (o: inout Options) in o.bloomBitsPerKey = -1 }),
        ("blockRestartInterval", { @Sendable (o: inout Options) in o.blockRestartInterval = 0 }),
        ("blockCacheCapacity", { @Sendable (o: inout Options) in o.blockCacheCapacity = -1 }),
        ("maxKeySize", { @Sendable (o: inout Options) in o.maxKeySize = 0 }),
        ("maxValueSize", { @Sendable (o: inout Options) in o.maxValueSize = -1 }),
        ("maxValueSize", { @Sendable (o: inout Options) in o.maxValueSize = 5 << 30 }),
        ("maxKeySize", { @Sendable (o: inout Options) in o.maxKeySize = Int(UInt32.max) }),
        ("level0FileNumCompactionTrigger", { @Sendable (o: inout Options) in o.level0FileNumCompactionTrigger = 0 }),
        ("level0SlowdownWritesTrigger", { @Sendable (o: inout Options) in o.level0SlowdownWritesTrigger = -3 }),
        ("level0StopWritesTrigger", { @Sendable (o: inout Options) in o.level0StopWritesTrigger = 0 }),
        ("maxBytesForLevelBase", { @Sendable (o: inout Options) in o.maxBytesForLevelBase = 0 }),
        ("levelSizeMultiplier", { @Sendable (o: inout Options) in o.levelSizeMultiplier = 0.5 }),
        ("levelSizeMultiplier", { @Sendable (o: inout Options) in o.levelSizeMultiplier = .infinity }),
        ("targetFileSizeBase", { @Sendable (o: inout Options) in o.targetFileSizeBase = 0 }),
        ("maxManifestFileSize", { @Sendable (o: inout Options) in o.maxManifestFileSize = 0 }),
        ("memtableBloomSizeRatio", { @Sendable (o: inout Options) in o.memtableBloomSizeRatio = .nan }),
        ("metricsPublishInterval", { @Sendable (o: inout Options) in o.metricsPublishInterval = .seconds(-1) }),
    ] as [(String, @Sendable (inout Options) -> Void)])
    func outOfRangeIsInvalidArgumentNamingTheOption(name: String, change: @Sendable (inout Options) -> Void) throws {
        let error = Self.opening(change)
        let e = try #require(error, "\(name): the open succeeded")
        #expect(e.kind == .invalidArgument, "\(name): \(e)")
        #expect(e.message.contains("Options.\(name)"), "\(name): \(e.message)")
    }

    @Test func invalidOptionsCreateNothing() throws {
        let fs = InMemoryFileSystem()
        var o = Options()
        o.fileSystem = fs
        o.blockRestartInterval = 0
        #expect(throws: StrataError.self) { _ = try Database.open(at: "/nothing", options: o) }
        #expect(!fs.fileExists(at: "/nothing"))
    }

    /// A value cap above what a memtable entry can hold used to reach a
    /// precondition in the skip list and trap the commit leader; now the
    /// open refuses it, and the largest accepted cap still works.
    @Test func valueCapAboveFourGiBIsRefusedAtOpen() throws {
        let e = try #require(Self.opening { $0.maxValueSize = Int(UInt32.max) + 1 })
        #expect(e.kind == .invalidArgument)
        #expect(Self.opening { $0.maxValueSize = Options.valueSizeLimit } == nil)
    }

    @Test func documentedClampsAreApplied() throws {
        var o = Options()
        o.maxBackgroundCompactions = -4
        o.memtableBloomSizeRatio = 3
        o.level0FileNumCompactionTrigger = 10
        o.level0SlowdownWritesTrigger = 6
        o.level0StopWritesTrigger = 8
        o.metricsPublishInterval = .microseconds(10)
        let v = try o.validated()
        #expect(v.maxBackgroundCompactions == 1)
        #expect(v.memtableBloomSizeRatio == 0.25)
        #expect(v.level0FileNumCompactionTrigger == 6)
        #expect(v.metricsPublishInterval == .milliseconds(1))
        o.memtableBloomSizeRatio = -1
        o.metricsPublishInterval = .zero
        #expect(try o.validated().memtableBloomSizeRatio == 0)
        #expect(try o.validated().metricsPublishInterval == .zero)
        // Valid values pass through unchanged.
        let d = try Options().validated()
        #expect(d.level0FileNumCompactionTrigger == Options().level0FileNumCompactionTrigger)
        #expect(d.maxBackgroundCompactions == Options().maxBackgroundCompactions)
    }

    /// The engine runs with the validated options: one compaction thread
    /// for a negative count, and the lowered level-0 trigger in both the
    /// picker's score and `strata.stats`' Score column (one formula).
    @Test func engineAndStatsUseTheValidatedOptions() throws {
        var o = Options()
        o.fileSystem = InMemoryFileSystem()
        o.logger.logLevel = .warning
        o.maxBackgroundCompactions = 0
        o.level0FileNumCompactionTrigger = 40
        o.level0SlowdownWritesTrigger = 50
        o.level0StopWritesTrigger = 60
        let db = try Database.open(at: "/s", options: o)
        #expect(db.core.compactionThreadCount == 1)
        #expect(db.options.level0FileNumCompactionTrigger == 40)
        for i in 0..<4 {
            try db.put(utf8("k\(i)"), utf8("v"))
            try db.flush()
        }
        let v = db.core.versions.current(0)
        let core = db.core
        let pickerScore = core.mu.withHeld { core.families($0).member(0)!.picker.scores(v)[0] }
        #expect(pickerScore == Double(v.files[0].count) / 40)
        let stats = try #require(db.property("strata.stats"))
        let l0 = try #require(stats.split(separator: "\n").first { $0.hasPrefix("   L0") || $0.hasPrefix("L0") || $0.contains(" L0 ") })
        #expect(l0.contains(String(format: "%.2f", pickerScore)), "\(l0)")
        try db.close()
    }
}
