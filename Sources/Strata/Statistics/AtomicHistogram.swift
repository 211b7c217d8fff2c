import Glibc
import Synchronization

/// A latency histogram that any number of threads record into without
/// locks: log-linear buckets (16 per power of two, so a reported percentile
/// is within about 6% of the true value), one relaxed atomic add per
/// recording. Readers sum the buckets whenever they like; a snapshot taken
/// during recording may miss the latest few samples, never more.
final class AtomicHistogram: Sendable {
    /// Values below 16 ns get a bucket each; above, 16 sub-buckets per power of two.
    static let subBuckets = 16
    static let bucketCount = 64 * 16

    private let buckets: InlineArray<1024, Atomic<UInt64>>
    private let sum = Atomic<UInt64>(0)
    private let maxValue = Atomic<UInt64>(0)

    init() {
        buckets = InlineArray { _ in Atomic(0) }
    }

    @inline(__always)
    static func bucket(_ ns: UInt64) -> Int {
        if ns < 16 { return Int(ns) }
        let msb = 63 - ns.leadingZeroBitCount
        let sub = Int((ns >> UInt64(msb - 4)) & 15)
        return (msb - 3) * 16 + sub
    }

    /// Smallest value that falls in bucket `b`.
    static func lowerBound(_ b: Int) -> UInt64 {
        if b < 16 { return UInt64(b) }
        let msb = b / 16 + 3
        let sub = UInt64(b % 16)
        return (UInt64(1) << UInt64(msb)) | (sub << UInt64(msb - 4))
    }

    /// Largest value that falls in bucket `b`.
    static func upperBound(_ b: Int) -> UInt64 {
        // The last sub-bucket of 2^63 has no successor below 2^64.
        (b + 1) / 16 + 3 >= 64 ? UInt64.max : lowerBound(b + 1) - 1
    }

    @inline(__always)
    func record(nanoseconds ns: UInt64) {
        buckets[Self.bucket(ns)].add(1, ordering: .relaxed)
        sum.add(ns, ordering: .relaxed)
        // Most samples are below the maximum; only a new maximum pays for the CAS loop.
        if ns > maxValue.load(ordering: .relaxed) { maxValue.max(ns, ordering: .relaxed) }
    }

    /// Records the time since `start` (from `monotonicNanoseconds()`).
    @inline(__always)
    func record(since start: UInt64) {
        record(nanoseconds: monotonicNanoseconds() &- start)
    }

    /// Count, mean, p50/p95/p99 and maximum of what was recorded so far.
    func summary() -> LatencySummary {
        var counts = [UInt64](repeating: 0, count: Self.bucketCount)
        var total: UInt64 = 0
        for i in 0..<Self.bucketCount {
            let n = buckets[i].load(ordering: .relaxed)
            counts[i] = n
            total &+= n
        }
        let mx = maxValue.load(ordering: .relaxed)
        func percentile(_ p: Double) -> UInt64 {
            guard total > 0 else { return 0 }
            let target = max(1, UInt64((Double(total) * p / 100).rounded(.up)))
            var seen: UInt64 = 0
            for (i, n) in counts.enumerated() where n > 0 {
                seen += n
                if seen >= target {
                    // The middle of the bucket, never above the largest sample.
                    let lo = Self.lowerBound(i), hi = Self.upperBound(i)
                    return min(lo + (hi - lo) / 2, mx)
                }
            }
            return mx
        }
        return LatencySummary(count: total, sumNanoseconds: sum.load(ordering: .relaxed),
                              p50Nanoseconds: percentile(50), p95Nanoseconds: percentile(95),
                              p99Nanoseconds: percentile(99), maxNanoseconds: mx)
    }
}

/// Percentiles of one operation's latency, in nanoseconds.
public struct LatencySummary: Sendable, Equatable {
    /// Operations recorded.
    public var count: UInt64
    /// Sum of all recorded latencies.
    public var sumNanoseconds: UInt64
    /// Median latency.
    public var p50Nanoseconds: UInt64
    /// 95th percentile latency.
    public var p95Nanoseconds: UInt64
    /// 99th percentile latency.
    public var p99Nanoseconds: UInt64
    /// Largest latency recorded.
    public var maxNanoseconds: UInt64

    /// Mean latency (0 when nothing was recorded).
    public var meanNanoseconds: UInt64 { count == 0 ? 0 : sumNanoseconds / count }
}

/// CLOCK_MONOTONIC in nanoseconds: cheaper than `ContinuousClock.now`
/// arithmetic on the per-operation paths.
@inline(__always)
func monotonicNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
}

/// CLOCK_MONOTONIC_COARSE in nanoseconds: the same clock as
/// `monotonicNanoseconds()` as of the last timer tick, so never ahead of it
/// and at most a tick (1-4 ms) behind, for about a quarter of the cost (no
/// TSC read). For deadlines that may come early but never late.
@inline(__always)
func monotonicCoarseNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
}

extension Duration {
    /// Whole nanoseconds, negative durations clamped to zero.
    var clampedNanoseconds: UInt64 {
        let c = components
        guard c.seconds >= 0 else { return 0 }
        return UInt64(c.seconds) &* 1_000_000_000 &+ UInt64(max(0, c.attoseconds / 1_000_000_000))
    }
}
