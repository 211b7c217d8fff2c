import Dispatch
import Metrics

/// An event store's figures since it was opened (the seed's
/// PersistenceMetrics): `EventStore.metrics()`.
public struct EventStoreMetrics: Sendable, Equatable {
    /// Events appended (known idempotency keys not counted).
    public var totalEvents: Int = 0
    /// Snapshots written.
    public var totalSnapshots: Int = 0
    /// Mean payload size of the appended events, in bytes (uncompressed).
    public var averageEventBytes: Double = 0
    /// Mean state size of the written snapshots, in bytes (uncompressed).
    public var averageSnapshotBytes: Double = 0
    /// Raw bytes of payloads and states divided by the bytes stored for them
    /// (1 without compression, larger when LZ4 saved space).
    public var compressionRatio: Double = 1
    /// Mean latency of an append call (single or batch).
    public var averageAppendLatency: Duration = .zero
    /// Slowest append call.
    public var maxAppendLatency: Duration = .zero
    /// How long the last `recover(stream:…)` took, if one ran.
    public var lastRecoveryTime: Duration?

    /// Empty figures.
    public init() {}
}

/// Counts what a store does, as a value (`value`) and through swift-metrics:
/// counters `strata_events_appended_total`, `strata_events_snapshots_total`,
/// recorders `strata_events_payload_bytes`, `strata_events_snapshot_bytes`,
/// `strata_events_compression_ratio`, timers `strata_events_append_duration`,
/// `strata_events_recovery_duration`. Every dimension carries `backend`.
public final class EventStoreRecorder: Sendable {
    private struct Totals {
        var events = 0, snapshots = 0
        var eventBytes = 0, snapshotBytes = 0, rawBytes = 0, storedBytes = 0
        var appends = 0, appendNanos: Int64 = 0, maxAppendNanos: Int64 = 0
        var recovery: Duration?
    }
    private let totals = StoreLock(Totals())
    private let appended, snapshots: Counter
    private let payloadBytes, snapshotBytes, ratio: Recorder
    private let appendLatency, recoveryLatency: Timer

    /// Instruments labelled with `backend` (`lsm`, `sqlite`, `postgres`, `memory`).
    public init(backend: String) {
        let d = [("backend", backend)]
        appended = Counter(label: "strata_events_appended_total", dimensions: d)
        snapshots = Counter(label: "strata_events_snapshots_total", dimensions: d)
        payloadBytes = Recorder(label: "strata_events_payload_bytes", dimensions: d)
        snapshotBytes = Recorder(label: "strata_events_snapshot_bytes", dimensions: d)
        ratio = Recorder(label: "strata_events_compression_ratio", dimensions: d)
        appendLatency = Timer(label: "strata_events_append_duration", dimensions: d)
        recoveryLatency = Timer(label: "strata_events_recovery_duration", dimensions: d)
    }

    /// Nanoseconds of the monotonic clock (a start for `appended`).
    public static var now: UInt64 { DispatchTime.now().uptimeNanoseconds }

    /// An append call that stored events of `rawBytes` payload in
    /// `storedBytes` (after compression), started at `start` (`now`).
    public func appended(events: Int, rawBytes: Int, storedBytes: Int, start: UInt64) {
        let nanos = Int64(DispatchTime.now().uptimeNanoseconds &- start)
        appendLatency.recordNanoseconds(nanos)
        guard events > 0 else { return }
        appended.increment(by: events)
        payloadBytes.record(rawBytes / events)
        let r = totals.withLock { t -> Double in
            t.events += events
            t.eventBytes += rawBytes
            t.rawBytes += rawBytes
            t.storedBytes += storedBytes
            t.appends += 1
            t.appendNanos += nanos
            t.maxAppendNanos = max(t.maxAppendNanos, nanos)
            return t.storedBytes == 0 ? 1 : Double(t.rawBytes) / Double(t.storedBytes)
        }
        ratio.record(r)
    }

    /// A snapshot of `rawBytes` state stored in `storedBytes`.
    public func snapshotWritten(rawBytes: Int, storedBytes: Int) {
        snapshots.increment()
        snapshotBytes.record(rawBytes)
        totals.withLock { t in
            t.snapshots += 1
            t.snapshotBytes += rawBytes
            t.rawBytes += rawBytes
            t.storedBytes += storedBytes
        }
    }

    /// A recovery that took `duration`.
    public func recovered(in duration: Duration) {
        recoveryLatency.recordNanoseconds(duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000)
        totals.withLock { $0.recovery = duration }
    }

    /// The figures as a value.
    public var value: EventStoreMetrics {
        totals.withLock { t in
            var m = EventStoreMetrics()
            m.totalEvents = t.events
            m.totalSnapshots = t.snapshots
            m.averageEventBytes = t.events == 0 ? 0 : Double(t.eventBytes) / Double(t.events)
            m.averageSnapshotBytes = t.snapshots == 0 ? 0 : Double(t.snapshotBytes) / Double(t.snapshots)
            m.compressionRatio = t.storedBytes == 0 ? 1 : Double(t.rawBytes) / Double(t.storedBytes)
            m.averageAppendLatency = t.appends == 0 ? .zero : .nanoseconds(t.appendNanos / Int64(t.appends))
            m.maxAppendLatency = .nanoseconds(t.maxAppendNanos)
            m.lastRecoveryTime = t.recovery
            return m
        }
    }
}
