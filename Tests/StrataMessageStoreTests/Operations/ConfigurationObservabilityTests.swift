import Foundation
import InMemoryTracing
import MetricsTestKit
import StrataMessageStore
import Testing
import Tracing

/// `MessageStoreConfiguration.open(observability:)`: whatever backend the
/// configuration names, the store it returns reports the same metrics (to
/// the injected factory, `queue` dimension, `_total` counters, timers), the
/// same spans (trace context carried in the headers across the queue hop)
/// and the same events.
@Suite struct ConfigurationObservabilityTests {
    /// Every backend this run reaches, as store URLs.
    static var kinds: [String] {
        ["memory", "sqlite", "json", "lsm"] + (ProcessInfo.processInfo.environment["STRATA_POSTGRES_URL"] == nil ? [] : ["postgres"])
    }

    static func url(_ kind: String, _ dir: String) -> String {
        switch kind {
        case "memory": return "memory:"
        case "sqlite": return "sqlite:\(dir)/store.sqlite"
        case "json": return "json:\(dir)/json"
        case "lsm": return "lsm:\(dir)/lsm"
        default:
            let base = ProcessInfo.processInfo.environment["STRATA_POSTGRES_URL"] ?? ""
            return base + (base.contains("?") ? "&" : "?") + "table_prefix=" + Backend.tablePrefix(dir)
        }
    }

    @Test(arguments: kinds)
    func everyBackendIsObservedThroughTheInjectedFactoryAndTracer(kind: String) async throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let metrics = TestMetrics()
        let tracer = InMemoryTracer()
        let events = StoreEventHub()
        let seen = events.subscribe()
        let config = try MessageStoreConfiguration(url: Self.url(kind, dir))
        let store = try await config.open(observability: StoreObservability(metricsFactory: metrics, tracer: tracer, events: events))
        for q in try await store.allQueueNames() { try await store.purge(queue: q) }  // a PostgreSQL store may be reused

        try await tracer.withSpan("http.request") { _ in
            try await store.add(contentsOf: (1...3).map { Message(id: "o\($0)-\(kind)", queue: "orders", payload: [1]) })
        }
        let got = try await store.receive(queue: "orders", limit: 2, lockDuration: nil)
        #expect(got.count == 2)
        try await store.complete(got.map(\.lockToken))
        try await store.close()
        events.finish()

        #expect(try metrics.expectCounter("strata_messages_added_total", [("queue", "orders")]).totalValue == 3)
        #expect(try metrics.expectCounter("strata_messages_received_total", [("queue", "orders")]).totalValue == 2)
        #expect(try metrics.expectCounter("strata_messages_completed_total", [("queue", "orders")]).totalValue == 2)
        #expect(try metrics.expectTimer("strata_messages_add_duration", [("queue", "orders")]).values.count == 1)
        #expect(try metrics.expectTimer("strata_messages_receive_duration", [("queue", "orders")]).values.count == 1)
        #expect(try metrics.expectTimer("strata_messages_complete_duration", [("queue", "orders")]).values.count == 1)
        // One set of dimensions per label: the LSM store's own unlabelled
        // message counters are not reported beside the wrapper's.
        let messageCounters = metrics.counters.filter { $0.label.hasPrefix("strata_messages_") }
        #expect(messageCounters.allSatisfy { $0.dimensions.contains { $0.0 == "queue" } }, "\(messageCounters.map(\.label))")
        #expect(metrics.counters.allSatisfy { $0.label.hasSuffix("_total") || !$0.label.hasPrefix("strata_messages_") })

        let spans = tracer.finishedSpans
        let request = try #require(spans.first { $0.operationName == "http.request" })
        let add = try #require(spans.first { $0.operationName == "strata.add" })
        let deliver = spans.filter { $0.operationName == "strata.deliver" }
        let complete = spans.filter { $0.operationName == "strata.complete" }
        #expect(spans.contains { $0.operationName == "strata.receive" })
        #expect(add.parentSpanID == request.spanID)
        #expect(deliver.count == 2 && deliver.allSatisfy { $0.parentSpanID == add.spanID && $0.traceID == request.traceID })
        #expect(complete.count == 2 && complete.allSatisfy { $0.traceID == request.traceID })
        // The context travelled in the stored message's headers.
        #expect(MessageTracing.context(of: got[0].message, using: tracer).inMemorySpanContext?.traceID == request.traceID)

        var kinds: [StoreEvent.Kind] = []
        for await e in seen { kinds.append(e.kind) }
        guard case .storeLoaded = kinds.first else {
            Issue.record("the first event is not storeLoaded: \(kinds)")
            return
        }
    }
}
