import Foundation
import Metrics
import MetricsTestKit
import Testing
@testable import Strata

@Suite(.offCooperativePool) struct StatisticsTests {
    static func options() -> Options {
        var o = Options()
        o.logger.logLevel = .warning
        return o
    }

    @Test func writeCountersFollowUserWALAndFlushBytes() throws {
        let dir = TempDir("stats")
        defer { dir.cleanup() }
        let db = try Database.open(at: dir.path, options: Self.options())
        var expectedUser = 0
        for i in 0..<200 {
            let k = utf8("key\(i)"), v = [UInt8](repeating: UInt8(i & 0xFF), count: i)
            var b = WriteBatch()
            b.put(k, v)
            expectedUser += b.byteSize
            try db.put(k, v)
        }
        let s0 = db.statistics.snapshot()
        #expect(s0.userBytesWritten == UInt64(expectedUser))
        #expect(s0.writeBatches == 200)
        #expect(s0.writeLatency.count == 200)
        // Everything appended so far went to the one live log.
        let logs = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".log") }
        #expect(logs.count == 1)
        let logSize = try FileManager.default.attributesOfItem(atPath: dir.file(logs[0]))[.size] as! Int
        #expect(s0.walBytesWritten == UInt64(logSize))
        #expect(s0.walBytesWritten > s0.userBytesWritten)  // fragment headers
        #expect(s0.flushes == 0 && s0.flushBytesWritten == 0)

        try db.flush()
        let s1 = db.statistics.snapshot()
        #expect(s1.flushes == 1)
        #expect(String(s1.flushBytesWritten) == db.property("strata.total-sst-files-size"))
        #expect(s1.flushBytesWritten > 0)
        let expectedAmp = Double(s1.walBytesWritten + s1.flushBytesWritten) / Double(s1.userBytesWritten)
        #expect(abs(s1.writeAmplification - expectedAmp) < 1e-9)
        try db.close()
    }

    @Test func readCountersFollowBlocksBloomAndCaches() throws {
        let dir = TempDir("stats")
        defer { dir.cleanup() }
        let db = try Database.open(at: dir.path, options: Self.options())
        for i in 0..<100 { try db.put(utf8("key\(i)"), utf8("value\(i)")) }
        try db.flush()
        // Reopen so the block cache and table cache start empty.
        try db.close()
        let db2 = try Database.open(at: dir.path, options: Self.options())
        #expect(try db2.get(utf8("key7")) == utf8("value7"))
        var s = db2.statistics.snapshot()
        #expect(s.gets == 1)
        #expect(s.getBlockReads == 1)  // one data block from disk
        #expect(s.getBlockReadBytes > 0)
        #expect(s.blockCacheMisses == 1 && s.blockCacheHits == 0)
        #expect(s.tableCacheMisses == 1)
        #expect(s.bloomFilterChecked == 1 && s.bloomFilterUseful == 0)
        // (The first read after open may also consult the table for range
        // tombstones, a table-cache hit of its own.)
        let hitsAfterFirst = s.tableCacheHits

        #expect(try db2.get(utf8("key7")) == utf8("value7"))
        s = db2.statistics.snapshot()
        #expect(s.getBlockReads == 1)  // served by the block cache
        #expect(s.blockCacheHits == 1)
        #expect(s.tableCacheHits == hitsAfterFirst + 1)
        #expect(s.readAmplification == 0.5)

        // Inside the table's key range, so only the bloom filter can rule it out.
        for i in 0..<50 { #expect(try db2.get(utf8("key\(i)+")) == nil) }
        s = db2.statistics.snapshot()
        #expect(s.bloomFilterChecked == 52)
        // 10 bits per key: false positives are rare; most misses are ruled out.
        #expect(s.bloomFilterUseful >= 40)
        #expect(s.getLatency.count == 52)
        try db2.close()
    }

    @Test func compactionCountersAndAmplification() throws {
        let stats = Statistics()
        stats.recordWrite(batches: 1, bytes: 1000, synced: false)
        stats.recordWALBytes(1100)
        stats.recordFlush(bytes: 900, duration: .milliseconds(1))
        stats.recordCompaction(bytesRead: 2000, bytesWritten: 1800, level: 1, duration: .milliseconds(5))
        stats.recordCompaction(bytesRead: 100, bytesWritten: 50, level: 2, duration: .milliseconds(1))
        stats.recordStall(.milliseconds(3))
        let s = stats.snapshot()
        #expect(s.levels[1] == LevelCompactionStatistics(level: 1, compactions: 1, bytesRead: 2000, bytesWritten: 1800, nanoseconds: 5_000_000))
        #expect(s.levels[2].bytesWritten == 50)
        #expect(s.compactions == 2)
        #expect(s.compactionBytesRead == 2100)
        #expect(s.writeAmplification == Double(1100 + 900 + 1850) / 1000)
        #expect(s.stalls == 1 && s.stallNanoseconds == 3_000_000)
    }

    @Test func histogramPercentilesOnKnownInputs() {
        let h = AtomicHistogram()
        #expect(h.summary() == LatencySummary(count: 0, sumNanoseconds: 0, p50Nanoseconds: 0, p95Nanoseconds: 0, p99Nanoseconds: 0, maxNanoseconds: 0))
        for v in 1...10_000 { h.record(nanoseconds: UInt64(v) * 1000) }
        let s = h.summary()
        #expect(s.count == 10_000)
        #expect(s.maxNanoseconds == 10_000_000)
        #expect(s.meanNanoseconds == 5_000_500)
        func close(_ got: UInt64, _ want: Double) -> Bool { abs(Double(got) - want) <= want * 0.07 }
        #expect(close(s.p50Nanoseconds, 5_000_000))
        #expect(close(s.p95Nanoseconds, 9_500_000))
        #expect(close(s.p99Nanoseconds, 9_900_000))
        #expect(s.p50Nanoseconds < s.p95Nanoseconds && s.p95Nanoseconds <= s.p99Nanoseconds)

        // Small values have a bucket each, so percentiles are exact.
        let small = AtomicHistogram()
        for v in 0..<10 { for _ in 0..<10 { small.record(nanoseconds: UInt64(v)) } }
        #expect(small.summary().p50Nanoseconds == 4)
        #expect(small.summary().p99Nanoseconds == 9)

        // One outlier shows in the maximum, not in p99.
        let skew = AtomicHistogram()
        for _ in 0..<1000 { skew.record(nanoseconds: 2000) }
        skew.record(nanoseconds: 50_000_000)
        #expect(skew.summary().p99Nanoseconds < 2100)
        #expect(skew.summary().maxNanoseconds == 50_000_000)
    }

    @Test func histogramBucketsCoverEveryValue() {
        for v: UInt64 in [0, 1, 15, 16, 17, 31, 32, 1000, 123_456_789, UInt64.max] {
            let b = AtomicHistogram.bucket(v)
            #expect(b >= 0 && b < AtomicHistogram.bucketCount)
            #expect(AtomicHistogram.lowerBound(b) <= v && v <= AtomicHistogram.upperBound(b))
        }
    }

    @Test func histogramCountsConcurrentRecordings() async {
        let h = AtomicHistogram()
        await withTaskGroup(of: Void.self) { group in
            for t in 0..<4 {
                group.addTask { for i in 0..<5000 { h.record(nanoseconds: UInt64(i * (t + 1))) } }
            }
        }
        #expect(h.summary().count == 20_000)
        #expect(h.summary().maxNanoseconds == 4999 * 4)
    }

    @Test func propertiesReportLevelsCachesAndLatencies() throws {
        let dir = TempDir("stats")
        defer { dir.cleanup() }
        let db = try Database.open(at: dir.path, options: Self.options())
        for i in 0..<100 { try db.put(utf8("key\(i)"), utf8("value\(i)")) }
        try db.flush()
        _ = try db.get(utf8("key1"))
        _ = try db.makeIterator()

        let stats = try #require(db.property("strata.stats"))
        #expect(stats.contains("** Compaction Stats **"))
        #expect(stats.contains("Level  Files  Size(MB)  Score  Read(GB)  Write(GB)  W-Amp"))
        let l0 = try #require(stats.split(separator: "\n").first { $0.trimmingCharacters(in: .whitespaces).hasPrefix("L0 ") })
        #expect(l0.split(separator: " ").dropFirst().first == "1")  // one file
        #expect(stats.contains("Sum"))
        #expect(stats.contains("Write amplification:"))
        #expect(stats.contains("Read amplification:"))
        #expect(stats.contains("Stalls:"))
        #expect(stats.contains("Block cache:"))
        #expect(stats.contains("Table cache:"))
        #expect(stats.contains("Bloom filter:"))
        let getRow = try #require(stats.split(separator: "\n").first { $0.hasPrefix("get ") })
        #expect(getRow.split(separator: " ")[1] == "1")
        #expect(stats.contains("iterator-create"))

        let levels = try #require(db.property("strata.levelstats"))
        let rows = levels.split(separator: "\n")
        #expect(rows.count == 2 + Version.numLevels)
        #expect(rows[2].split(separator: " ").map(String.init).prefix(2) == ["0", "1"])
        #expect(Int(try #require(db.property("strata.block-cache-usage")))! > 0)
        #expect(Int(try #require(db.property("strata.total-sst-files-size")))! > 0)
        #expect(db.property("strata.num-files-at-level0") == "1")
        #expect(db.property("strata.estimate-num-keys") == "100")
        #expect(db.property("strata.no-such-thing") == nil)
        try db.close()
    }

    @Test func metricsFactoryReceivesValues() throws {
        let dir = TempDir("stats")
        defer { dir.cleanup() }
        let metrics = TestMetrics()
        var o = Self.options()
        o.metricsFactory = metrics
        o.metricsPublishInterval = .zero  // publish only at close, deterministically
        let db = try Database.open(at: dir.path, options: o)
        for i in 0..<50 { try db.put(utf8("key\(i)"), utf8("value\(i)")) }
        try db.flush()
        for i in 0..<20 { _ = try db.get(utf8("key\(i)")) }
        let expected = db.statistics.snapshot()
        try db.close()

        let dims = [("db", dir.path)]
        #expect(try metrics.expectCounter("strata_user_bytes_written", dims).totalValue == Int64(expected.userBytesWritten))
        #expect(try metrics.expectCounter("strata_wal_bytes_written", dims).totalValue == Int64(expected.walBytesWritten))
        #expect(try metrics.expectCounter("strata_flush_bytes_written", dims).totalValue == Int64(expected.flushBytesWritten))
        #expect(try metrics.expectCounter("strata_gets", dims).totalValue == 20)
        #expect(try metrics.expectCounter("strata_flushes", dims).totalValue == 1)
        #expect(try metrics.expectTimer("strata_flush_duration", dims).values.count == 1)
        let amp = try metrics.expectGauge("strata_write_amplification", dims).lastValue
        #expect(amp != nil && amp! > 1)
        let p99 = try metrics.expectGauge("strata_latency_nanoseconds", dims + [("op", "get"), ("quantile", "0.99")]).lastValue
        #expect(p99 != nil && p99! > 0)
    }

    @Test func metricsPublishOnlyIncrements() throws {
        let metrics = TestMetrics()
        let stats = Statistics()
        let reporter = MetricsReporter(factory: metrics, path: "/x")
        stats.recordWrite(batches: 1, bytes: 10, synced: false)
        reporter.publish(stats.snapshot())
        stats.recordWrite(batches: 1, bytes: 5, synced: false)
        reporter.publish(stats.snapshot())
        reporter.publish(stats.snapshot())
        let c = try metrics.expectCounter("strata_user_bytes_written", [("db", "/x")])
        #expect(c.totalValue == 15)
        #expect(c.values.count == 2)
    }

    @Test func metricsArePublishedPeriodicallyWhileOpen() throws {
        let dir = TempDir("stats")
        defer { dir.cleanup() }
        let metrics = TestMetrics()
        var o = Self.options()
        o.metricsFactory = metrics
        o.metricsPublishInterval = .milliseconds(5)
        let db = try Database.open(at: dir.path, options: o)
        try db.put(utf8("k"), utf8("v"))
        let expected = Int64(db.statistics.userBytesWritten)
        // Poll (no timing assertion): the publisher thread gets there eventually.
        var seen: Int64 = 0
        for _ in 0..<1000 where seen != expected {
            seen = (try? metrics.expectCounter("strata_user_bytes_written", [("db", dir.path)]).totalValue) ?? 0
            if seen != expected { usleep(5000) }
        }
        #expect(seen == expected)
        try db.close()
        #expect(try metrics.expectCounter("strata_user_bytes_written", [("db", dir.path)]).totalValue == expected)
    }
}
