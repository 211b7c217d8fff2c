import Dispatch

/// Wakes catch-up subscriptions when events become loadable: a counter
/// bumped on every append, and the continuations of waiters parked on an
/// older count. Backends call `notify()` after their watermark moves.
public final class EventArrivals: Sendable {
    private struct State {
        var version: UInt64 = 0
        var nextID: UInt64 = 0
        var waiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
    }
    private let state = StoreLock(State())

    /// A signal with no waiters.
    public init() {}

    /// The current count; pass it to `wait(after:timeout:)` after finding
    /// nothing new, so an arrival between the two is not missed.
    public var version: UInt64 { state.withLock { $0.version } }

    /// Wakes every waiter.
    public func notify() {
        let woken = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            s.version &+= 1
            defer { s.waiters = [:] }
            return Array(s.waiters.values)
        }
        for c in woken { c.resume() }
    }

    /// Suspends until the count moves past `version`, `timeout` passes or
    /// the task is cancelled (whichever first). Never blocks a thread.
    public func wait(after version: UInt64, timeout: Duration) async {
        let id = state.withLock { s -> UInt64 in
            s.nextID &+= 1
            return s.nextID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let parked = state.withLock { s -> Bool in
                    guard s.version == version, !Task.isCancelled else { return false }
                    s.waiters[id] = c
                    return true
                }
                guard parked else { return c.resume() }
                let (sec, atto) = timeout.components
                let nanos = max(0, sec) * 1_000_000_000 + atto / 1_000_000_000
                DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(Int(min(nanos, Int64(Int32.max))))) { [self] in
                    self.resume(id)
                }
            }
        } onCancel: {
            resume(id)
        }
    }

    private func resume(_ id: UInt64) {
        state.withLock { $0.waiters.removeValue(forKey: id) }?.resume()
    }
}

/// A catch-up subscription to one stream (`EventStore.events(stream:after:)`):
/// iterating yields the stored events after the starting LSN, then each new
/// one as it becomes loadable. It reads through the store's `load`, which
/// only returns events whose predecessors are all written, and resumes after
/// the last LSN it yielded, so it never skips or repeats an event. `next()`
/// returns nil once the iterating task is cancelled; a store error (closed,
/// corruption) is thrown.
public struct EventSubscription: AsyncSequence, Sendable {
    /// What `next()` yields.
    public typealias Element = Event
    /// Reads the events after an LSN (the store's `load(stream:after:limit:)`).
    public typealias Loader = @Sendable (_ after: Int64, _ limit: Int) async throws -> [Event]

    private let load: Loader
    private let arrivals: EventArrivals?
    private let start: Int64
    private let pollInterval: Duration
    private let batchSize: Int

    /// A subscription reading through `load` from after `lsn`. It parks on
    /// `arrivals` when caught up, and re-reads at least every `pollInterval`
    /// (writers in other processes do not signal).
    public init(after lsn: Int64, arrivals: EventArrivals?, pollInterval: Duration = .milliseconds(50),
                batchSize: Int = 256, load: @escaping Loader) {
        self.load = load
        self.arrivals = arrivals
        start = lsn
        self.pollInterval = pollInterval
        self.batchSize = Swift.max(1, batchSize)
    }

    /// The iterator: a cursor and a buffer of loaded events.
    public struct AsyncIterator: AsyncIteratorProtocol {
        let subscription: EventSubscription
        var cursor: Int64
        var buffer: [Event] = []
        var index = 0

        /// The next event, waiting for one to be appended when caught up;
        /// nil after cancellation.
        public mutating func next() async throws -> Event? {
            while true {
                if Task.isCancelled { return nil }
                if index < buffer.count {
                    defer { index += 1 }
                    cursor = buffer[index].lsn
                    return buffer[index]
                }
                let seen = subscription.arrivals?.version ?? 0
                buffer = try await subscription.load(cursor, subscription.batchSize)
                index = 0
                if !buffer.isEmpty { continue }
                if let arrivals = subscription.arrivals {
                    await arrivals.wait(after: seen, timeout: subscription.pollInterval)
                } else {
                    do { try await Task.sleep(for: subscription.pollInterval) } catch { return nil }
                }
            }
        }
    }

    /// An iterator starting after the subscription's LSN.
    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(subscription: self, cursor: start) }
}
