/// Operation latencies in nanoseconds, bucketed log-linearly (16 sub-buckets
/// per power of two, about 6% resolution), so recording is a few
/// instructions and percentiles need no sorting.
struct LatencyHistogram {
    private var buckets = [UInt64](repeating: 0, count: 64 * 16)
    private(set) var count: UInt64 = 0
    private(set) var sum: UInt64 = 0
    private(set) var maxValue: UInt64 = 0
    /// Told of every `benchProgressBatch` recorded operations (nil: nobody).
    private let progress: (any BenchProgress)?
    private var unreported = 0

    init(progress: (any BenchProgress)? = nil) { self.progress = progress }

    @inline(__always)
    private static func bucket(_ ns: UInt64) -> Int {
        if ns < 16 { return Int(ns) }
        let msb = 63 - ns.leadingZeroBitCount
        let sub = Int((ns >> UInt64(msb - 4)) & 15)
        return (msb - 3) * 16 + sub
    }

    private static func lowerBound(_ b: Int) -> UInt64 {
        if b < 16 { return UInt64(b) }
        let msb = b / 16 + 3
        let sub = UInt64(b % 16)
        return (UInt64(1) << UInt64(msb)) | (sub << UInt64(msb - 4))
    }

    @inline(__always)
    mutating func record(_ ns: UInt64) {
        buckets[Self.bucket(ns)] &+= 1
        count &+= 1
        sum &+= ns
        if ns > maxValue { maxValue = ns }
        if let progress {
            unreported &+= 1
            if unreported == benchProgressBatch {
                progress.advance(by: unreported)
                unreported = 0
            }
        }
    }

    /// Records one sampled latency that stands for `weight` operations:
    /// the percentiles see one sample, progress advances by `weight`.
    @inline(__always)
    mutating func recordSample(_ ns: UInt64, standingFor weight: Int) {
        buckets[Self.bucket(ns)] &+= 1
        count &+= 1
        sum &+= ns
        if ns > maxValue { maxValue = ns }
        if let progress {
            unreported &+= weight
            if unreported >= benchProgressBatch {
                progress.advance(by: unreported)
                unreported = 0
            }
        }
    }

    mutating func merge(_ o: LatencyHistogram) {
        for i in 0..<buckets.count { buckets[i] &+= o.buckets[i] }
        count += o.count
        sum += o.sum
        maxValue = max(maxValue, o.maxValue)
    }

    /// The latency at percentile `p` (0...100), in nanoseconds.
    func percentile(_ p: Double) -> UInt64 {
        guard count > 0 else { return 0 }
        let target = UInt64((Double(count) * p / 100).rounded(.up))
        var seen: UInt64 = 0
        for (i, n) in buckets.enumerated() {
            seen += n
            if seen >= max(target, 1) { return Self.lowerBound(i) }
        }
        return maxValue
    }
}
