import Foundation
import InMemoryTracing
import MetricsTestKit
import StrataMessageStore
import Testing
import Tracing

@Suite struct ObservabilityTests {
    /// Span and trace of the producer continue on the consumer's side: the
    /// context travels in the message's headers (through a reopen of the
    /// store where the backend persists).
    @Test(arguments: Backend.allCases)
    func traceContinuesAcrossAQueueHop(backend: Backend) async throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let tracer = InMemoryTracer()
        let base = try await backend.make(dir)
        let producer = InstrumentedMessageStore(base, tracer: tracer)
        try await tracer.withSpan("http.request") { _ in
            try await producer.add(Message(id: "m1", queue: "orders", payload: [1]))
        }
        var consumerBase = base
        if backend != .memory {
            try await base.close()
            consumerBase = try await backend.make(dir)
        }
        let consumer = InstrumentedMessageStore(consumerBase, tracer: tracer)
        let got = try await consumer.receive(queue: "orders", limit: 10, lockDuration: nil)
        #expect(got.count == 1)
        try await consumer.complete(got.map(\.lockToken))
        try await consumer.close()

        let spans = tracer.finishedSpans
        let request = try #require(spans.first { $0.operationName == "http.request" })
        let add = try #require(spans.first { $0.operationName == "strata.add" })
        let deliver = try #require(spans.first { $0.operationName == "strata.deliver" })
        let complete = try #require(spans.first { $0.operationName == "strata.complete" })
        let receive = try #require(spans.first { $0.operationName == "strata.receive" })
        #expect(add.parentSpanID == request.spanID)
        #expect(deliver.traceID == request.traceID)
        #expect(deliver.parentSpanID == add.spanID)
        #expect(complete.traceID == request.traceID)
        #expect(complete.parentSpanID == add.spanID)
        #expect(receive.traceID != request.traceID)  // the consumer's own poll
        // A handler continues the producer's trace from the message alone.
        let handlerContext = consumer.traceContext(of: got[0].message)
        let handler = tracer.startSpan("handle", context: handlerContext)
        handler.end()
        #expect(tracer.finishedSpans.last?.traceID == request.traceID)
    }

    /// Metrics go to the injected factory (the global one is untouched),
    /// with a `queue` dimension, counters `_total` and timers for latency.
    @Test func metricsThroughTheInjectedFactory() async throws {
        let metrics = TestMetrics()
        let store = InstrumentedMessageStore(InMemoryMessageStore(), metricsFactory: metrics, tracer: NoOpTracer())
        try await store.add(contentsOf: (1...3).map { Message(id: "o\($0)", queue: "orders", payload: [1]) })
        try await store.add(Message(id: "p1", queue: "payments", payload: [1]))
        let got = try await store.receive(queue: "orders", limit: 2, lockDuration: nil)
        try await store.complete(got.map(\.lockToken))
        let one = try await store.receive(queue: "orders", limit: 1, lockDuration: nil)
        try await store.abandon(one[0].lockToken)

        #expect(try metrics.expectCounter("strata_messages_added_total", [("queue", "orders")]).totalValue == 3)
        #expect(try metrics.expectCounter("strata_messages_added_total", [("queue", "payments")]).totalValue == 1)
        #expect(try metrics.expectCounter("strata_messages_received_total", [("queue", "orders")]).totalValue == 3)
        #expect(try metrics.expectCounter("strata_messages_completed_total", [("queue", "orders")]).totalValue == 2)
        #expect(try metrics.expectCounter("strata_messages_abandoned_total", [("queue", "orders")]).totalValue == 1)
        #expect(try metrics.expectTimer("strata_messages_add_duration", [("queue", "orders")]).values.count == 1)
        #expect(try metrics.expectTimer("strata_messages_receive_duration", [("queue", "orders")]).values.count == 2)
        #expect(try metrics.expectTimer("strata_messages_complete_duration", [("queue", "orders")]).values.count == 1)
        #expect(metrics.counters.allSatisfy { $0.label.hasSuffix("_total") })

        try await store.close()
        await #expect(throws: MessageStoreError.self) { try await store.add(Message(id: "late", queue: "orders", payload: [])) }
        #expect(try metrics.expectCounter("strata_store_errors_total", [("operation", "add")]).totalValue == 1)
        // Caller errors (a duplicate id) are not persistence errors.
        #expect(metrics.counters(label: "strata_store_errors_total").count == 1)
    }

    /// The LSM store's own instruments (and its engine's) take the factory
    /// from its options.
    @Test func lsmStoreMetricsThroughTheInjectedFactory() async throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let metrics = TestMetrics()
        var options = MessageStoreOptions()
        options.metricsFactory = metrics
        let store = try await LSMMessageStore.open(at: dir + "/store", options: options)
        try await store.add(contentsOf: [Message(id: "a", queue: "q", payload: [1]), Message(id: "b", queue: "q", payload: [1])])
        #expect(try metrics.expectCounter("strata_messages_added_total").totalValue == 2)
        #expect(try metrics.expectTimer("strata_messages_add_duration").values.count == 1)
        try await store.close()
    }

    /// Seed 004's persistence events, in order, each also logged.
    @Test func persistenceEvents() async throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = InstrumentedMessageStore(try await LSMMessageStore.open(at: dir + "/store"), tracer: NoOpTracer())
        let events = store.events.subscribe()
        try await store.initialize()
        try await store.add(Message(id: "m1", queue: "q", payload: [1]))
        let export = dir + "/export.json"
        _ = try await MessageExport.export(store, to: export)
        try await store.createSnapshot(name: "s1")
        try await store.restoreSnapshot(name: "s1")
        try await store.importFile(export, replace: true)
        try await store.deleteSnapshot(name: "s1")
        await #expect(throws: MessageStoreError.self) { try await store.add(Message(id: "m1", queue: "q", payload: [1])) }  // duplicate: no event
        try await store.close()
        await #expect(throws: MessageStoreError.self) { try await store.get(id: "m1") }
        store.events.finish()
        var seen: [StoreEvent.Kind] = []
        for await e in events { seen.append(e.kind) }
        #expect(seen.count == 6, "\(seen)")
        guard seen.count == 6 else { return }
        #expect(seen[0] == .storeLoaded(backend: "LSMMessageStore", queues: 1) || seen[0] == .storeLoaded(backend: "LSMMessageStore", queues: 0))
        if case .snapshotCreated(let info) = seen[1] { #expect(info.name == "s1") } else { Issue.record("\(seen[1])") }
        #expect(seen[2] == .snapshotRestored(name: "s1"))
        #expect(seen[3] == .importCompleted(imported: 1, skipped: 0))
        #expect(seen[4] == .snapshotDeleted(name: "s1"))
        if case .persistenceError(let op, _) = seen[5] { #expect(op == "get") } else { Issue.record("\(seen[5])") }
        #expect(store.events.persistenceErrorCount == 1)
    }

    /// Alerts fire once per crossing and clear once when the figure is back.
    @Test func alertThresholdCrossings() async throws {
        let base = InMemoryMessageStore()
        let store = InstrumentedMessageStore(base, tracer: NoOpTracer())
        let events = store.events.subscribe()
        try await store.createQueue("q", settings: QueueSettings(maxDeliveryCount: 1))
        let monitor = AlertMonitor(store: store, thresholds: AlertThresholds(maxQueueDepth: 2, maxDeadLetters: 0, maxStorageBytes: 10),
                                   interval: .seconds(3600), events: store.events)
        #expect(try await monitor.check().isEmpty)
        try await store.add(contentsOf: (1...3).map { Message(id: "m\($0)", queue: "q", payload: [1, 2, 3, 4]) })
        let raised = try await monitor.check()
        #expect(Set(raised.map(\.metric)) == [.queueDepth, .storageBytes])
        #expect(raised.allSatisfy { $0.state == .raised })
        #expect(raised.first { $0.metric == .queueDepth }?.queue == "q")
        #expect(try await monitor.check().isEmpty)  // still above: no repeat
        let r = try await store.receive(queue: "q", limit: 1, lockDuration: nil)
        try await store.deadLetter(r[0].lockToken, reason: "bad")
        try await store.remove(id: "m2")
        let next = try await monitor.check()
        // 8 payload bytes left (m3 and the dead letter): storage is back too.
        #expect(Set(next.map { "\($0.metric.rawValue):\($0.state.rawValue)" }) == ["queueDepth:cleared", "deadLetters:raised", "storageBytes:cleared"])
        #expect(monitor.activeAlerts == 1)
        store.events.finish()
        var alerts = 0
        for await e in events { if case .alert = e.kind { alerts += 1 } }
        #expect(alerts == 5)
    }

    /// The error rate is persistence errors per second between two checks.
    @Test func errorRateAlert() async throws {
        let hub = StoreEventHub()
        let monitor = AlertMonitor(store: InMemoryMessageStore(), thresholds: AlertThresholds(maxErrorsPerSecond: 0),
                                   interval: .seconds(3600), events: hub)
        #expect(try await monitor.check().isEmpty)  // first check: no rate yet
        hub.emit(.persistenceError(operation: "add", error: "disk"))
        let alerts = try await monitor.check()
        #expect(alerts.map(\.metric) == [.errorRate])
        #expect(try await monitor.check().map(\.state) == [.cleared])
    }

    /// Running, the monitor checks by itself and stops on cancellation.
    @Test func alertMonitorRunsPeriodically() async throws {
        let store = InstrumentedMessageStore(InMemoryMessageStore(), tracer: NoOpTracer())
        let events = store.events.subscribe()
        let monitor = AlertMonitor(store: store, thresholds: AlertThresholds(maxQueueDepth: 0), interval: .milliseconds(5), events: store.events)
        let running = Task { try await monitor.run() }
        try await store.add(Message(id: "m1", queue: "q", payload: [1]))
        for await e in events {
            if case .alert(let a) = e.kind {
                #expect(a.metric == .queueDepth && a.queue == "q" && a.state == .raised)
                break
            }
        }
        running.cancel()
        _ = await running.result
    }

    @Test func alertMonitorWithIntervalZeroIsOff() async throws {
        try await AlertMonitor(store: InMemoryMessageStore(), thresholds: AlertThresholds(), interval: .zero, events: StoreEventHub()).run()
    }
}
