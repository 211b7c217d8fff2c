import Dispatch
import Metrics

/// The store's swift-metrics instruments (labels `strata_messages_*`):
/// operation counts, latencies of add/receive/complete, payload sizes and
/// the error count; the engine under the store reports its own figures.
struct MessageStoreMetrics: Sendable {
    let added = Counter(label: "strata_messages_added_total")
    let received = Counter(label: "strata_messages_received_total")
    let completed = Counter(label: "strata_messages_completed_total")
    let abandoned = Counter(label: "strata_messages_abandoned_total")
    let deadLettered = Counter(label: "strata_messages_dead_lettered_total")
    let errors = Counter(label: "strata_messages_errors_total")
    let addLatency = Timer(label: "strata_messages_add_duration")
    let receiveLatency = Timer(label: "strata_messages_receive_duration")
    let completeLatency = Timer(label: "strata_messages_complete_duration")
    let payloadBytes = Recorder(label: "strata_messages_payload_bytes")

    /// Nanoseconds since `start` (from `DispatchTime.now().uptimeNanoseconds`).
    static func since(_ start: UInt64) -> Int64 { Int64(DispatchTime.now().uptimeNanoseconds &- start) }
    static var now: UInt64 { DispatchTime.now().uptimeNanoseconds }
}
