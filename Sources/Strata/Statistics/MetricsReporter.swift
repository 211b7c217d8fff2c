import CoreMetrics
import Foundation
import Synchronization

/// Reports `Statistics` through swift-metrics.
///
/// Cheap by construction: every metric object is created once, at open.
/// Rare events (flush, compaction, stall) record into their `Timer` when
/// they happen; everything else is published periodically by the
/// `strata-metrics` thread (and once more at close): counters as increments
/// since the last publication, levels and percentiles as gauges. The
/// per-operation paths never call into the metrics backend.
///
/// Every metric carries the dimension `db` = the database path.
final class MetricsReporter: Sendable {
    /// A counter and the snapshot field it follows.
    private struct FollowedCounter: Sendable {
        let counter: Counter
        let value: @Sendable (StatisticsSnapshot) -> UInt64
    }

    /// A gauge and the snapshot figure it shows.
    private struct FollowedGauge: Sendable {
        let gauge: Gauge
        let value: @Sendable (StatisticsSnapshot) -> Double
    }

    private let counters: [FollowedCounter]
    private let gauges: [FollowedGauge]
    private let flushTimer: CoreMetrics.Timer
    private let compactionTimer: CoreMetrics.Timer
    private let stallTimer: CoreMetrics.Timer
    /// Counter values at the last publication; the lock also serializes publications.
    private let published: Locked<[UInt64]>

    // Publisher thread state, guarded by `monitor`.
    private let monitor = Monitor()
    private nonisolated(unsafe) var stopping = false
    private let exited = ThreadParker()
    private let running = Atomic<Bool>(false)

    init(factory: any MetricsFactory, path: String) {
        let dims = [("db", path)]
        func counter(_ label: String, _ value: @escaping @Sendable (StatisticsSnapshot) -> UInt64) -> FollowedCounter {
            FollowedCounter(counter: Counter(label: label, dimensions: dims, factory: factory), value: value)
        }
        func gauge(_ label: String, _ extra: [(String, String)] = [],
                   _ value: @escaping @Sendable (StatisticsSnapshot) -> Double) -> FollowedGauge {
            FollowedGauge(gauge: Gauge(label: label, dimensions: dims + extra, factory: factory), value: value)
        }
        let c = [
            counter("strata_user_bytes_written") { $0.userBytesWritten },
            counter("strata_wal_bytes_written") { $0.walBytesWritten },
            counter("strata_flush_bytes_written") { $0.flushBytesWritten },
            counter("strata_compaction_bytes_written") { $0.compactionBytesWritten },
            counter("strata_compaction_bytes_read") { $0.compactionBytesRead },
            counter("strata_write_batches") { $0.writeBatches },
            counter("strata_write_groups") { $0.writeGroups },
            counter("strata_gets") { $0.gets },
            counter("strata_iterators") { $0.iteratorsCreated },
            counter("strata_flushes") { $0.flushes },
            counter("strata_compactions") { $0.compactions },
            counter("strata_stalls") { $0.stalls },
            counter("strata_stall_nanoseconds") { $0.stallNanoseconds },
            counter("strata_bloom_filter_checked") { $0.bloomFilterChecked },
            counter("strata_bloom_filter_useful") { $0.bloomFilterUseful },
            counter("strata_block_reads") { $0.blockReads },
            counter("strata_block_read_bytes") { $0.blockReadBytes },
            counter("strata_block_cache_hits") { $0.blockCacheHits },
            counter("strata_block_cache_misses") { $0.blockCacheMisses },
            counter("strata_table_cache_hits") { $0.tableCacheHits },
            counter("strata_table_cache_misses") { $0.tableCacheMisses },
        ]
        var g = [
            gauge("strata_write_amplification") { $0.writeAmplification },
            gauge("strata_read_amplification") { $0.readAmplification },
            gauge("strata_block_cache_usage_bytes") { Double($0.blockCacheUsage) },
            gauge("strata_block_cache_hit_rate") { $0.blockCacheHitRate },
            gauge("strata_table_cache_hit_rate") { $0.tableCacheHitRate },
            gauge("strata_open_tables") { Double($0.openTables) },
        ]
        let ops: [(String, @Sendable (StatisticsSnapshot) -> LatencySummary)] = [
            ("get", { $0.getLatency }), ("write", { $0.writeLatency }), ("iterator_create", { $0.iteratorCreateLatency }),
        ]
        for (op, summary) in ops {
            g.append(gauge("strata_latency_nanoseconds", [("op", op), ("quantile", "0.5")]) { Double(summary($0).p50Nanoseconds) })
            g.append(gauge("strata_latency_nanoseconds", [("op", op), ("quantile", "0.95")]) { Double(summary($0).p95Nanoseconds) })
            g.append(gauge("strata_latency_nanoseconds", [("op", op), ("quantile", "0.99")]) { Double(summary($0).p99Nanoseconds) })
            g.append(gauge("strata_latency_nanoseconds", [("op", op), ("quantile", "1")]) { Double(summary($0).maxNanoseconds) })
        }
        counters = c
        gauges = g
        flushTimer = Timer(label: "strata_flush_duration", dimensions: dims, factory: factory)
        compactionTimer = Timer(label: "strata_compaction_duration", dimensions: dims, factory: factory)
        stallTimer = Timer(label: "strata_stall_duration", dimensions: dims, factory: factory)
        published = Locked([UInt64](repeating: 0, count: c.count))
    }

    func recordFlush(duration: Duration) { flushTimer.recordNanoseconds(Int64(duration.clampedNanoseconds)) }
    func recordCompaction(duration: Duration) { compactionTimer.recordNanoseconds(Int64(duration.clampedNanoseconds)) }
    func recordStall(duration: Duration) { stallTimer.recordNanoseconds(Int64(duration.clampedNanoseconds)) }

    /// Sends counter increments since the last call and current gauge values.
    func publish(_ s: StatisticsSnapshot) {
        published.withLock { last in
            for (i, c) in counters.enumerated() {
                let v = c.value(s)
                if v > last[i] { c.counter.increment(by: Int64(clamping: v - last[i])) }
                last[i] = max(last[i], v)
            }
            for g in gauges { g.gauge.record(g.value(s)) }
        }
    }

    /// Starts the thread that publishes every `interval`.
    func start(interval: Duration, statistics: Statistics) {
        guard interval > .zero, !running.exchange(true, ordering: .relaxed) else { return }
        let ns = interval.clampedNanoseconds  // at least 1 ms (Options.validated())
        let t = Thread { [self] in
            monitor.lock()
            while !stopping {
                monitor.wait(nanoseconds: ns)
                if stopping { break }
                monitor.unlock()
                publish(statistics.snapshot())
                monitor.lock()
            }
            monitor.unlock()
            exited.unpark()
        }
        t.name = "strata-metrics"
        t.start()
    }

    /// Stops the publishing thread (if running) and publishes a last time.
    func stop(statistics: Statistics) {
        if running.load(ordering: .relaxed) {
            monitor.withLock {
                stopping = true
                monitor.broadcast()
            }
            exited.park()
        }
        publish(statistics.snapshot())
    }
}

extension MetricsReporter {
    /// A reporter for the configured factory, or nil when metrics go nowhere.
    static func make(options: Options, path: String) -> MetricsReporter? {
        let factory = options.metricsFactory ?? MetricsSystem.factory
        if factory is NOOPMetricsHandler { return nil }
        return MetricsReporter(factory: factory, path: path)
    }
}
