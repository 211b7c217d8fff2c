import Dispatch
import Metrics

/// The store's swift-metrics instruments (labels `strata_messages_*`):
/// operation counts, latencies of add/receive/complete, payload sizes and
/// the error count; the engine under the store reports its own figures.
package struct MessageStoreMetrics: Sendable {
    /// Instruments made by `factory` (nil = the global `MetricsSystem.factory`).
    package init(factory: (any MetricsFactory)? = nil) {
        let f = factory ?? MetricsSystem.factory
        added = Counter(label: "strata_messages_added_total", factory: f)
        received = Counter(label: "strata_messages_received_total", factory: f)
        completed = Counter(label: "strata_messages_completed_total", factory: f)
        abandoned = Counter(label: "strata_messages_abandoned_total", factory: f)
        deadLettered = Counter(label: "strata_messages_dead_lettered_total", factory: f)
        errors = Counter(label: "strata_messages_errors_total", factory: f)
        addLatency = Timer(label: "strata_messages_add_duration", factory: f)
        receiveLatency = Timer(label: "strata_messages_receive_duration", factory: f)
        completeLatency = Timer(label: "strata_messages_complete_duration", factory: f)
        payloadBytes = Recorder(label: "strata_messages_payload_bytes", factory: f)
    }
    package let added: Counter
    package let received: Counter
    package let completed: Counter
    package let abandoned: Counter
    package let deadLettered: Counter
    package let errors: Counter
    package let addLatency: Timer
    package let receiveLatency: Timer
    package let completeLatency: Timer
    package let payloadBytes: Recorder

    /// Nanoseconds since `start` (from `DispatchTime.now().uptimeNanoseconds`).
    package static func since(_ start: UInt64) -> Int64 { Int64(DispatchTime.now().uptimeNanoseconds &- start) }
    package static var now: UInt64 { DispatchTime.now().uptimeNanoseconds }
}
