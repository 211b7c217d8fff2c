import CoreMetrics
import Dispatch

/// The message operations' metrics, made by an injected `MetricsFactory`
/// (nil = the global `MetricsSystem.factory`), each with a `queue` dimension:
/// counters `strata_messages_{added,received,completed,abandoned,dead_lettered}_total`,
/// timers `strata_messages_{add,receive,complete}_duration` (nanoseconds),
/// `strata_store_errors_total` (dimension `operation`),
/// `strata_snapshots_{created,restored}_total` and the timer
/// `strata_snapshot_duration`. Instruments are made once per label and
/// queue and cached.
public final class StoreMetrics: Sendable {
    private let factory: any MetricsFactory
    private let counters = StoreLock<[String: Counter]>([:])
    private let timers = StoreLock<[String: Timer]>([:])

    /// Metrics from `factory` (nil = the global factory as bootstrapped).
    public init(factory: (any MetricsFactory)? = nil) {
        self.factory = factory ?? MetricsSystem.factory
    }

    private static func key(_ label: String, _ dimensions: [(String, String)]) -> String {
        dimensions.reduce(label) { $0 + "\u{0}" + $1.0 + "=" + $1.1 }
    }

    /// The counter `label` with `dimensions`.
    public func counter(_ label: String, _ dimensions: [(String, String)]) -> Counter {
        counters.withLock { c in
            let k = Self.key(label, dimensions)
            if let existing = c[k] { return existing }
            let made = Counter(label: label, dimensions: dimensions, factory: factory)
            c[k] = made
            return made
        }
    }

    /// The timer `label` with `dimensions`.
    public func timer(_ label: String, _ dimensions: [(String, String)]) -> Timer {
        timers.withLock { t in
            let k = Self.key(label, dimensions)
            if let existing = t[k] { return existing }
            let made = Timer(label: label, dimensions: dimensions, factory: factory)
            t[k] = made
            return made
        }
    }

    /// Counts `n` on `strata_messages_<what>_total{queue}`.
    package func count(_ what: String, queue: String, _ n: Int = 1) {
        guard n > 0 else { return }
        counter("strata_messages_\(what)_total", [("queue", queue)]).increment(by: n)
    }

    /// Records the time since `start` on `strata_messages_<what>_duration{queue}`.
    package func time(_ what: String, queue: String, since start: UInt64) {
        timer("strata_messages_\(what)_duration", [("queue", queue)])
            .recordNanoseconds(Int64(DispatchTime.now().uptimeNanoseconds &- start))
    }

    /// Counts one failure of `operation`.
    package func error(_ operation: String) {
        counter("strata_store_errors_total", [("operation", operation)]).increment()
    }
}
