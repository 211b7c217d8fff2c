import Testing
@testable import Strata

/// The write-stall rules (`CompactionPressure`) as plain functions of the
/// compaction backlog and the options; the write path applies them under `mu`.
@Suite struct WriteStallRuleTests {
    @Test func stallRulesFollowTheTriggersAndByteLimits() throws {
        var o = Options()
        o.level0SlowdownWritesTrigger = 8
        o.level0StopWritesTrigger = 12
        o.softPendingCompactionBytesLimit = 1000
        o.hardPendingCompactionBytesLimit = 2000
        o = try o.validated()
        func p(_ files: Int, _ bytes: UInt64) -> CompactionPressure { CompactionPressure(level0Files: files, pendingBytes: bytes) }
        #expect(!p(7, 999).slowsWrites(o) && !p(7, 999).stopsWrites(o))
        #expect(p(8, 0).slowsWrites(o) && !p(8, 0).stopsWrites(o))
        #expect(p(0, 1000).slowsWrites(o) && !p(0, 1000).stopsWrites(o))
        #expect(p(12, 0).stopsWrites(o))
        #expect(p(0, 2000).stopsWrites(o))
        o.softPendingCompactionBytesLimit = 0
        o.hardPendingCompactionBytesLimit = 0
        #expect(!p(0, .max).slowsWrites(o) && !p(0, .max).stopsWrites(o), "a byte limit of 0 is no limit")
    }
}
