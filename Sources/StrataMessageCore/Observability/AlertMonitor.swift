import Foundation
import ServiceLifecycle

/// Limits the `AlertMonitor` checks (nil = not checked). Queue figures are
/// per queue (subscription queues included); storage and error rate are
/// store-wide.
public struct AlertThresholds: Sendable, Equatable {
    /// Stored messages of one queue (active + scheduled + locked) above this.
    public var maxQueueDepth: Int?
    /// Messages in one queue's dead-letter queue above this.
    public var maxDeadLetters: Int?
    /// The oldest stored message of one queue older than this.
    public var maxOldestMessageAge: Duration?
    /// `storageBytes()` above this.
    public var maxStorageBytes: Int64?
    /// Persistence errors per second (over one check interval) above this.
    public var maxErrorsPerSecond: Double?

    /// Thresholds; every one off unless given.
    public init(maxQueueDepth: Int? = nil, maxDeadLetters: Int? = nil, maxOldestMessageAge: Duration? = nil,
                maxStorageBytes: Int64? = nil, maxErrorsPerSecond: Double? = nil) {
        self.maxQueueDepth = maxQueueDepth
        self.maxDeadLetters = maxDeadLetters
        self.maxOldestMessageAge = maxOldestMessageAge
        self.maxStorageBytes = maxStorageBytes
        self.maxErrorsPerSecond = maxErrorsPerSecond
    }
}

/// One threshold crossing.
public struct Alert: Sendable, Equatable, Hashable, CustomStringConvertible {
    /// The figure that crossed.
    public enum Metric: String, Sendable, Hashable {
        /// `AlertThresholds.maxQueueDepth`.
        case queueDepth
        /// `AlertThresholds.maxDeadLetters`.
        case deadLetters
        /// `AlertThresholds.maxOldestMessageAge` (value and threshold in seconds).
        case oldestMessageAge
        /// `AlertThresholds.maxStorageBytes`.
        case storageBytes
        /// `AlertThresholds.maxErrorsPerSecond`.
        case errorRate
    }
    /// Raised when the figure goes above its threshold, cleared when it is
    /// back at or below it.
    public enum State: String, Sendable, Hashable {
        /// Now above the threshold.
        case raised
        /// Back within it.
        case cleared
    }
    /// What crossed.
    public var metric: Metric
    /// The queue, for per-queue figures.
    public var queue: String?
    /// The figure when checked.
    public var value: Double
    /// Its threshold.
    public var threshold: Double
    /// Raised or cleared.
    public var state: State

    /// An alert.
    public init(metric: Metric, queue: String?, value: Double, threshold: Double, state: State) {
        self.metric = metric
        self.queue = queue
        self.value = value
        self.threshold = threshold
        self.state = state
    }

    public var description: String {
        "\(state.rawValue): \(metric.rawValue)\(queue.map { " of \($0)" } ?? "") \(value) (threshold \(threshold))"
    }
}

/// Checks a store against `AlertThresholds` every `interval` and emits an
/// `.alert` event on each crossing — once when a figure goes above its
/// threshold, once when it comes back — never again while it stays put.
/// A swift-service-lifecycle `Service`: `run()` checks until graceful
/// shutdown or cancellation. `check()` runs one round (tests, `strata health`).
public final class AlertMonitor: Service, Sendable {
    /// The store watched.
    public let store: any MessageStore
    /// The limits.
    public let thresholds: AlertThresholds
    /// Time between checks (0 = `run()` returns at once: monitoring off).
    public let interval: Duration
    /// Where alerts go; its persistence-error count gives the error rate.
    public let events: StoreEventHub

    private struct State {
        var raised: Set<Key> = []
        var lastErrors: (count: Int, at: ContinuousClock.Instant)?
    }
    private struct Key: Hashable {
        var metric: Alert.Metric
        var queue: String?
    }
    private let state = StoreLock(State())

    /// A monitor of `store`, reporting to `events` (an `InstrumentedMessageStore`'s
    /// hub, so its error rate counts the store's failures).
    public init(store: any MessageStore, thresholds: AlertThresholds, interval: Duration = .seconds(30), events: StoreEventHub) {
        self.store = store
        self.thresholds = thresholds
        self.interval = interval
        self.events = events
    }

    public func run() async throws {
        guard interval > .zero else { return }
        try await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do { _ = try await self.check() } catch is CancellationError { return } catch {
                    self.events.emit(.persistenceError(operation: "alert check", error: "\(error)"))
                }
                try await Task.sleep(for: self.interval)
            }
        }
    }

    /// One round of checks; returns (and emits) the crossings it found.
    @discardableResult
    public func check() async throws -> [Alert] {
        var figures: [(Key, Double, Double)] = []  // key, value, threshold
        let t = thresholds
        if t.maxQueueDepth != nil || t.maxDeadLetters != nil || t.maxOldestMessageAge != nil {
            for queue in try await watchedQueues() {
                let s = try await store.statistics(queue: queue)
                if let max = t.maxQueueDepth {
                    figures.append((Key(metric: .queueDepth, queue: queue), Double(s.active + s.scheduled + s.locked), Double(max)))
                }
                if let max = t.maxDeadLetters {
                    figures.append((Key(metric: .deadLetters, queue: queue), Double(s.deadLettered), Double(max)))
                }
                if let max = t.maxOldestMessageAge {
                    figures.append((Key(metric: .oldestMessageAge, queue: queue), Self.seconds(s.oldestAge ?? .zero), Self.seconds(max)))
                }
            }
        }
        if let max = t.maxStorageBytes {
            figures.append((Key(metric: .storageBytes, queue: nil), Double(try await store.storageBytes()), Double(max)))
        }
        if let max = t.maxErrorsPerSecond, let rate = errorRate() {
            figures.append((Key(metric: .errorRate, queue: nil), rate, max))
        }
        let alerts: [Alert] = state.withLock { s in
            var out: [Alert] = []
            for (key, value, threshold) in figures {
                let above = value > threshold
                if above && !s.raised.contains(key) {
                    s.raised.insert(key)
                    out.append(Alert(metric: key.metric, queue: key.queue, value: value, threshold: threshold, state: .raised))
                } else if !above && s.raised.contains(key) {
                    s.raised.remove(key)
                    out.append(Alert(metric: key.metric, queue: key.queue, value: value, threshold: threshold, state: .cleared))
                }
            }
            return out
        }
        for a in alerts { events.emit(.alert(a)) }
        return alerts
    }

    /// The alerts raised and not yet cleared.
    public var activeAlerts: Int { state.withLock { $0.raised.count } }

    /// Queues and subscription queues (dead-letter counts are read through
    /// their parent queue's statistics).
    private func watchedQueues() async throws -> [String] {
        var names = try await store.queues().map(\.name)
        for topic in try await store.topics() { names += try await store.subscriptions(topic: topic).map(\.queue) }
        return names
    }

    /// Persistence errors per second since the previous check (nil at the first).
    private func errorRate() -> Double? {
        let now = ContinuousClock.now
        let count = events.persistenceErrorCount
        return state.withLock { s in
            defer { s.lastErrors = (count, now) }
            guard let last = s.lastErrors else { return nil }
            let elapsed = Self.seconds(now - last.at)
            return elapsed > 0 ? Double(count - last.count) / elapsed : nil
        }
    }

    private static func seconds(_ d: Duration) -> Double {
        let (s, atto) = d.components
        return Double(s) + Double(atto) / 1e18
    }
}
