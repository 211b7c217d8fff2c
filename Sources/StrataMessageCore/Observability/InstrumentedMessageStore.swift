import Dispatch
import Foundation
import Logging
import Metrics
import Tracing

/// Any backend, observed: wraps a `MessageStore` and forwards every call,
/// adding what operators watch — metrics from an injected `MetricsFactory`
/// with a `queue` dimension (`StoreMetrics`), spans for add, receive and
/// complete through swift-distributed-tracing with the trace context carried
/// in message headers (`MessageTracing`), and persistence events on `events`
/// (store loaded, snapshot created / restored / deleted, import completed,
/// persistence errors), each logged through swift-log. Works the same on the
/// LSM, in-memory, SQLite, PostgreSQL and JSON stores.
///
/// Spans: `strata.add` (producer; its context goes into every message's
/// headers), `strata.receive` (consumer, child of the caller's context),
/// one `strata.deliver` per received message as a child of the producer's
/// `strata.add` span, and `strata.complete` per token, also in the
/// producer's trace. Handlers continue the trace with
/// `traceContext(of:)`.
public final class InstrumentedMessageStore: MessageStore {
    /// The store every call goes to.
    public let base: any MessageStore
    /// The metrics (made by the factory given at init).
    public let metrics: StoreMetrics
    /// Persistence events; also what an `AlertMonitor` of this store reports to.
    public let events: StoreEventHub
    private let explicitTracer: (any Tracer)?
    /// Trace contexts of received messages, by lock id, until completed,
    /// abandoned or dead-lettered (bounded: `maxRememberedContexts`).
    private let delivered = StoreLock<[UUID: ServiceContext]>([:])
    private static let maxRememberedContexts = 100_000
    private static let callerErrors: Set<String> = ["duplicateId", "invalidArgument", "notFound", "alreadyExists", "lockLost"]

    /// Observes `base`. `metricsFactory` nil = the global factory; `tracer`
    /// nil = `InstrumentationSystem.tracer` (as bootstrapped); `events`
    /// shared with an `AlertMonitor` or a `SnapshotService` if given.
    public init(_ base: any MessageStore, metricsFactory: (any MetricsFactory)? = nil, tracer: (any Tracer)? = nil,
                events: StoreEventHub = StoreEventHub()) {
        self.base = base
        self.metrics = StoreMetrics(factory: metricsFactory)
        self.explicitTracer = tracer
        self.events = events
    }

    /// The tracer spans go to.
    public var tracer: any Tracer { explicitTracer ?? InstrumentationSystem.tracer }

    /// The producer's trace context carried in `message`'s headers, on top of
    /// the current context: start a handler's span with it to continue the trace.
    public func traceContext(of message: Message) -> ServiceContext {
        MessageTracing.context(of: message, base: ServiceContext.current ?? .topLevel, using: tracer)
    }

    // MARK: observation

    /// Runs `body`, counting and reporting a failure that is not the caller's.
    func observed<T>(_ operation: String, _ body: () async throws -> T) async throws -> T {
        do { return try await body() } catch {
            report(error, in: operation)
            throw error
        }
    }

    private func report(_ error: any Error, in operation: String) {
        if error is CancellationError { return }
        if let e = error as? MessageStoreError, Self.callerErrors.contains(e.kind.rawValue) { return }
        metrics.error(operation)
        events.emit(.persistenceError(operation: operation, error: "\(error)"))
    }

    /// A span named `name` with parent `context` around `body` (which runs
    /// with the span's context as the current one).
    private func inSpan<Tr: Tracer, R>(_ tracer: Tr, _ name: String, kind: SpanKind, context: ServiceContext,
                                       attributes: [String: String], _ body: (ServiceContext) async throws -> R) async throws -> R {
        let span = tracer.startSpan(name, context: context, ofKind: kind)
        for (k, v) in attributes { span.attributes[k] = v }
        defer { span.end() }
        do {
            return try await ServiceContext.$current.withValue(span.context) { try await body(span.context) }
        } catch {
            span.recordError(error)
            span.setStatus(SpanStatus(code: .error))
            throw error
        }
    }

    private func point<Tr: Tracer>(_ tracer: Tr, _ name: String, kind: SpanKind, context: ServiceContext, attributes: [String: String]) {
        let span = tracer.startSpan(name, context: context, ofKind: kind)
        for (k, v) in attributes { span.attributes[k] = v }
        span.end()
    }

    private static func countsByQueue(_ queues: [String]) -> [String: Int] {
        queues.reduce(into: [:]) { $0[$1, default: 0] += 1 }
    }

    // MARK: Core

    public func initialize() async throws {
        try await observed("initialize") {
            try await base.initialize()
            let queues = try await base.queues().count
            events.emit(.storeLoaded(backend: String(describing: type(of: base)), queues: queues))
        }
    }

    public func add(_ message: Message) async throws { try await add(contentsOf: [message]) }

    public func add(contentsOf messages: [Message]) async throws {
        let start = DispatchTime.now().uptimeNanoseconds
        let queue = messages.first?.queue ?? ""
        let tracer = self.tracer
        try await observed("add") {
            try await inSpan(tracer, "strata.add", kind: .producer, context: ServiceContext.current ?? .topLevel,
                             attributes: ["messaging.destination.name": queue, "messaging.batch.message_count": String(messages.count)]) { ctx in
                try await base.add(contentsOf: messages.map { MessageTracing.inject(ctx, into: $0, using: tracer) })
            }
        }
        for (q, n) in Self.countsByQueue(messages.map(\.queue)) { metrics.count("added", queue: q, n) }
        metrics.time("add", queue: queue, since: start)
    }

    public func get(id: String) async throws -> Message? { try await observed("get") { try await base.get(id: id) } }
    public func remove(id: String) async throws { try await observed("remove") { try await base.remove(id: id) } }
    public func pending(queue: String, limit: Int) async throws -> [Message] {
        try await observed("pending") { try await base.pending(queue: queue, limit: limit) }
    }
    public func recent(queue: String, limit: Int) async throws -> [Message] {
        try await observed("recent") { try await base.recent(queue: queue, limit: limit) }
    }
    public func backup(to path: String) async throws { try await observed("backup") { try await base.backup(to: path) } }
    public func restore(from path: String) async throws { try await observed("restore") { try await base.restore(from: path) } }
    public func compact() async throws { try await observed("compact") { try await base.compact() } }
    public func close() async throws {
        try await observed("close") { try await base.close() }
        delivered.withLock { $0 = [:] }
    }

    // MARK: Entities

    public func createQueue(_ name: String, settings: QueueSettings) async throws {
        try await observed("createQueue") { try await base.createQueue(name, settings: settings) }
    }
    public func deleteQueue(_ name: String) async throws { try await observed("deleteQueue") { try await base.deleteQueue(name) } }
    public func queues() async throws -> [QueueDescription] { try await observed("queues") { try await base.queues() } }
    public func createTopic(_ name: String) async throws { try await observed("createTopic") { try await base.createTopic(name) } }
    public func deleteTopic(_ name: String) async throws { try await observed("deleteTopic") { try await base.deleteTopic(name) } }
    public func topics() async throws -> [String] { try await observed("topics") { try await base.topics() } }
    public func createSubscription(_ name: String, topic: String, settings: QueueSettings, filter: SubscriptionFilter) async throws {
        try await observed("createSubscription") { try await base.createSubscription(name, topic: topic, settings: settings, filter: filter) }
    }
    public func deleteSubscription(_ name: String, topic: String) async throws {
        try await observed("deleteSubscription") { try await base.deleteSubscription(name, topic: topic) }
    }
    public func subscriptions(topic: String) async throws -> [SubscriptionDescription] {
        try await observed("subscriptions") { try await base.subscriptions(topic: topic) }
    }

    // MARK: Broker semantics

    @discardableResult
    public func publish(_ messages: [Message], topic: String) async throws -> Int {
        let start = DispatchTime.now().uptimeNanoseconds
        let tracer = self.tracer
        let copies = try await observed("publish") {
            try await inSpan(tracer, "strata.add", kind: .producer, context: ServiceContext.current ?? .topLevel,
                             attributes: ["messaging.destination.name": topic, "messaging.batch.message_count": String(messages.count)]) { ctx in
                try await base.publish(messages.map { MessageTracing.inject(ctx, into: $0, using: tracer) }, topic: topic)
            }
        }
        metrics.count("added", queue: topic, copies)
        metrics.time("add", queue: topic, since: start)
        return copies
    }

    public func receive(queue: String, limit: Int, lockDuration: Duration?) async throws -> [ReceivedMessage] {
        try await received(queue) { try await base.receive(queue: queue, limit: limit, lockDuration: lockDuration) }
    }

    public func receive(queue: String, limit: Int, lockDuration: Duration?, maxWait: Duration) async throws -> [ReceivedMessage] {
        try await received(queue) { try await base.receive(queue: queue, limit: limit, lockDuration: lockDuration, maxWait: maxWait) }
    }

    private func received(_ queue: String, _ call: () async throws -> [ReceivedMessage]) async throws -> [ReceivedMessage] {
        let start = DispatchTime.now().uptimeNanoseconds
        let tracer = self.tracer
        let got = try await observed("receive") {
            try await inSpan(tracer, "strata.receive", kind: .consumer, context: ServiceContext.current ?? .topLevel,
                             attributes: ["messaging.destination.name": queue]) { _ in try await call() }
        }
        var contexts: [(UUID, ServiceContext)] = []
        for r in got {
            let producer = MessageTracing.context(of: r.message, using: tracer)
            point(tracer, "strata.deliver", kind: .consumer, context: producer,
                  attributes: ["messaging.destination.name": queue, "messaging.message.id": r.message.id,
                               "messaging.delivery_count": String(r.message.deliveryCount)])
            contexts.append((r.lockToken.id, producer))
        }
        if !contexts.isEmpty {
            delivered.withLock { map in
                if map.count + contexts.count > Self.maxRememberedContexts { map.removeAll() }
                for (id, ctx) in contexts { map[id] = ctx }
            }
        }
        metrics.count("received", queue: queue, got.count)
        metrics.time("receive", queue: queue, since: start)
        return got
    }

    private func forget(_ tokens: [LockToken]) -> [ServiceContext?] {
        delivered.withLock { map in tokens.map { map.removeValue(forKey: $0.id) } }
    }

    public func complete(_ tokens: [LockToken]) async throws {
        let start = DispatchTime.now().uptimeNanoseconds
        let tracer = self.tracer
        let contexts = delivered.withLock { map in tokens.map { map[$0.id] } }
        let spans = zip(tokens, contexts).map { token, ctx in
            let span = tracer.startSpan("strata.complete", context: ctx ?? ServiceContext.current ?? .topLevel, ofKind: .consumer)
            span.attributes["messaging.destination.name"] = token.queue
            span.attributes["messaging.message.id"] = token.messageID
            return span
        }
        do {
            try await observed("complete") { try await base.complete(tokens) }
        } catch {
            for s in spans {
                s.recordError(error)
                s.setStatus(SpanStatus(code: .error))
                s.end()
            }
            throw error
        }
        for s in spans { s.end() }
        _ = forget(tokens)
        for (q, n) in Self.countsByQueue(tokens.map(\.queue)) {
            metrics.count("completed", queue: q, n)
            metrics.time("complete", queue: q, since: start)
        }
    }

    public func abandon(_ token: LockToken) async throws {
        try await observed("abandon") { try await base.abandon(token) }
        _ = forget([token])
        metrics.count("abandoned", queue: token.queue)
    }

    public func deadLetter(_ token: LockToken, reason: String) async throws {
        try await observed("deadLetter") { try await base.deadLetter(token, reason: reason) }
        _ = forget([token])
        metrics.count("dead_lettered", queue: token.queue)
    }

    public func renewLock(_ token: LockToken) async throws -> Date {
        try await observed("renewLock") { try await base.renewLock(token) }
    }

    @discardableResult
    public func purge(queue: String) async throws -> Int { try await observed("purge") { try await base.purge(queue: queue) } }

    public func statistics(queue: String) async throws -> QueueStatistics {
        try await observed("statistics") { try await base.statistics(queue: queue) }
    }

    // MARK: Operations

    @discardableResult
    public func createSnapshot(name: String) async throws -> SnapshotInfo {
        let start = DispatchTime.now().uptimeNanoseconds
        let before = try await observed("snapshots") { try await base.snapshots() }
        let info = try await observed("createSnapshot") { try await base.createSnapshot(name: name) }
        metrics.timer("strata_snapshot_duration", []).recordNanoseconds(Int64(DispatchTime.now().uptimeNanoseconds &- start))
        metrics.counter("strata_snapshots_created_total", []).increment()
        events.emit(.snapshotCreated(info))
        // Retention may have deleted older ones.
        if let after = try? await base.snapshots() {
            let kept = Set(after.map(\.name))
            for old in before where !kept.contains(old.name) { events.emit(.snapshotDeleted(name: old.name)) }
        }
        return info
    }

    public func snapshots() async throws -> [SnapshotInfo] { try await observed("snapshots") { try await base.snapshots() } }

    public func restoreSnapshot(name: String) async throws {
        try await observed("restoreSnapshot") { try await base.restoreSnapshot(name: name) }
        delivered.withLock { $0 = [:] }
        metrics.counter("strata_snapshots_restored_total", []).increment()
        events.emit(.snapshotRestored(name: name))
    }

    public func deleteSnapshot(name: String) async throws {
        try await observed("deleteSnapshot") { try await base.deleteSnapshot(name: name) }
        events.emit(.snapshotDeleted(name: name))
    }

    public func health(thresholds: HealthThresholds) async throws -> StoreHealth {
        try await base.health(thresholds: thresholds)
    }

    public func storageBytes() async throws -> Int64 { try await observed("storageBytes") { try await base.storageBytes() } }

    // MARK: Import

    /// Imports a `MessageExport` file into the store and emits
    /// `.importCompleted`.
    @discardableResult
    public func importFile(_ path: String, replace: Bool) async throws -> MessageExport.ImportSummary {
        let summary = try await observed("import") { try await MessageExport.importFile(path, into: self, replace: replace) }
        recordImport(summary)
        return summary
    }

    /// Emits `.importCompleted` for an import done elsewhere (the CLI's).
    public func recordImport(_ summary: MessageExport.ImportSummary) {
        events.emit(.importCompleted(imported: summary.messages, skipped: summary.duplicates))
    }
}
