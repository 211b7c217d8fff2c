import Foundation
import Logging

/// Something that happened to a store: what seed 004's persistence events
/// name (loaded, snapshot created / restored, imported, error, alert).
public struct StoreEvent: Sendable, Equatable, CustomStringConvertible {
    /// What happened.
    public enum Kind: Sendable, Equatable {
        /// The store was opened and answered (`initialize()`): its backend
        /// type and how many queues it holds.
        case storeLoaded(backend: String, queues: Int)
        /// A named snapshot was created.
        case snapshotCreated(SnapshotInfo)
        /// The store's contents were replaced by snapshot `name`.
        case snapshotRestored(name: String)
        /// Snapshot `name` was deleted (by a call or by retention).
        case snapshotDeleted(name: String)
        /// An import finished: messages stored and skipped as duplicates.
        case importCompleted(imported: Int, skipped: Int)
        /// An operation failed for a reason that is not the caller's
        /// (I/O, corruption, closed, connection): the operation and error.
        case persistenceError(operation: String, error: String)
        /// An alert threshold was crossed (`raised`) or is met again (`cleared`).
        case alert(Alert)
    }

    /// When it happened.
    public var date: Date
    /// What happened.
    public var kind: Kind

    /// An event of `kind` at `date`.
    public init(_ kind: Kind, date: Date = Date()) {
        self.kind = kind
        self.date = date
    }

    public var description: String {
        switch kind {
        case .storeLoaded(let backend, let queues): "store loaded: \(backend), \(queues) queues"
        case .snapshotCreated(let info): "snapshot created: \(info)"
        case .snapshotRestored(let name): "snapshot restored: \(name)"
        case .snapshotDeleted(let name): "snapshot deleted: \(name)"
        case .importCompleted(let imported, let skipped): "import completed: \(imported) imported, \(skipped) skipped"
        case .persistenceError(let op, let error): "persistence error in \(op): \(error)"
        case .alert(let alert): "alert \(alert)"
        }
    }
}

/// Delivers a store's events to every subscriber and logs each through
/// swift-log (errors at `.error`, alerts raised at `.warning`, the rest at
/// `.info`). An `AsyncSequence`: each iteration is its own subscription from
/// the moment it starts; `subscribe()` subscribes at once (so nothing
/// emitted between the call and the first `next()` is missed). A
/// subscriber that falls behind by more than `bufferSize` events loses the
/// oldest ones; emitting never waits.
public final class StoreEventHub: AsyncSequence, Sendable {
    public typealias Element = StoreEvent

    private struct State {
        var subscribers: [UInt64: AsyncStream<StoreEvent>.Continuation] = [:]
        var next: UInt64 = 0
        var persistenceErrors = 0
    }
    private let state = StoreLock(State())
    /// Where events are logged.
    public let logger: Logger
    /// Events kept per subscriber that has not read them yet.
    public let bufferSize: Int

    /// A hub logging to `logger`.
    public init(logger: Logger = Logger(label: "strata.events"), bufferSize: Int = 1024) {
        self.logger = logger
        self.bufferSize = Swift.max(1, bufferSize)
    }

    /// A stream of every event emitted from now on; ends when the
    /// subscriber stops iterating or `finish()` is called.
    public func subscribe() -> AsyncStream<StoreEvent> {
        let (stream, continuation) = AsyncStream<StoreEvent>.makeStream(bufferingPolicy: .bufferingNewest(bufferSize))
        let id = state.withLock { s in
            s.next += 1
            s.subscribers[s.next] = continuation
            return s.next
        }
        continuation.onTermination = { [weak self] _ in self?.state.withLock { _ = $0.subscribers.removeValue(forKey: id) } }
        return stream
    }

    /// Subscribes when the iteration starts.
    public func makeAsyncIterator() -> AsyncStream<StoreEvent>.Iterator { subscribe().makeAsyncIterator() }

    /// Logs `event` and hands it to every subscriber.
    public func emit(_ event: StoreEvent) {
        let subscribers = state.withLock { s in
            if case .persistenceError = event.kind { s.persistenceErrors += 1 }
            return Array(s.subscribers.values)
        }
        switch event.kind {
        case .persistenceError: logger.error("\(event.description)")
        case .alert(let a) where a.state == .raised: logger.warning("\(event.description)")
        default: logger.info("\(event.description)")
        }
        for s in subscribers { s.yield(event) }
    }

    /// Emits an event of `kind` dated now.
    public func emit(_ kind: StoreEvent.Kind) { emit(StoreEvent(kind)) }

    /// Persistence errors emitted so far (the alert monitor's error rate).
    public var persistenceErrorCount: Int { state.withLock { $0.persistenceErrors } }

    /// Ends every subscription.
    public func finish() {
        for s in state.withLock({ s in defer { s.subscribers = [:] }; return Array(s.subscribers.values) }) { s.finish() }
    }
}
