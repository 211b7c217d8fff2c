import Metrics

/// The store's swift-metrics instruments (labels `strata_messages_*`):
/// operation counts and the error count; the engine under the store reports
/// its own latencies, sizes and cache figures.
struct MessageStoreMetrics: Sendable {
    let added = Counter(label: "strata_messages_added_total")
    let received = Counter(label: "strata_messages_received_total")
    let completed = Counter(label: "strata_messages_completed_total")
    let abandoned = Counter(label: "strata_messages_abandoned_total")
    let deadLettered = Counter(label: "strata_messages_dead_lettered_total")
    let errors = Counter(label: "strata_messages_errors_total")
}
