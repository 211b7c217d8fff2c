import Dispatch
import Metrics

/// The store's swift-metrics instruments (labels `strata_messages_*`):
/// operation counts, latencies of add/receive/complete, payload sizes and
/// the error count; the engine under the store reports its own figures.
package struct MessageStoreMetrics: Sendable {
    package init() {}
    package let added = Counter(label: "strata_messages_added_total")
    package let received = Counter(label: "strata_messages_received_total")
    package let completed = Counter(label: "strata_messages_completed_total")
    package let abandoned = Counter(label: "strata_messages_abandoned_total")
    package let deadLettered = Counter(label: "strata_messages_dead_lettered_total")
    package let errors = Counter(label: "strata_messages_errors_total")
    package let addLatency = Timer(label: "strata_messages_add_duration")
    package let receiveLatency = Timer(label: "strata_messages_receive_duration")
    package let completeLatency = Timer(label: "strata_messages_complete_duration")
    package let payloadBytes = Recorder(label: "strata_messages_payload_bytes")

    /// Nanoseconds since `start` (from `DispatchTime.now().uptimeNanoseconds`).
    package static func since(_ start: UInt64) -> Int64 { Int64(DispatchTime.now().uptimeNanoseconds &- start) }
    package static var now: UInt64 { DispatchTime.now().uptimeNanoseconds }
}
