import Foundation
import Logging
import ServiceLifecycle

/// Thrown by a `QueueConsumer` handler to send the message to its queue's
/// dead-letter queue with `reason` (any other error abandons it, so it is
/// delivered again until `maxDeliveryCount`).
public struct DeadLetterError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Stored in the message's `DeadLetterReason` header.
    public var reason: String
    /// An error that dead-letters the message with `reason`.
    public init(reason: String) { self.reason = reason }
    public var description: String { "dead-letter: \(reason)" }
}

/// Runs a handler over a queue as a swift-service-lifecycle `Service`:
/// up to `maxConcurrent` handlers at once, `prefetch` more messages
/// received ahead, each message's lock renewed while its handler runs. A
/// handler that returns completes its message; one that throws
/// `DeadLetterError` dead-letters it; any other error abandons it. On
/// graceful shutdown the consumer stops receiving (a receive in progress
/// ends within its one-second poll), abandons what it had prefetched, lets
/// running handlers finish within `gracePeriod`, then cancels them and
/// abandons their messages. Cancelling `run()` does the same without the
/// grace period, cutting a receive short. A closed store ends `run()` with its
/// `.closed` error (other receive errors are logged and retried). Delivery
/// is at least once: a handler may see a message again after a crash, a
/// lost lock or an abandon.
public struct QueueConsumer: Service {
    /// What a handler receives: the message and its lock.
    public typealias Handler = @Sendable (ReceivedMessage) async throws -> Void

    let store: any MessageStore
    let queue: String
    let maxConcurrent: Int
    let prefetch: Int
    let lockDuration: Duration?
    let gracePeriod: Duration
    let logger: Logger
    let handler: Handler

    /// A consumer of `queue` running `handler` on each message's contents.
    /// `prefetch` (default `maxConcurrent`) messages are received ahead;
    /// `lockDuration` nil uses the queue's; renewal runs at a third of the
    /// remaining lock time.
    public init(store: any MessageStore, queue: String, maxConcurrent: Int = 1, prefetch: Int? = nil,
                lockDuration: Duration? = nil, gracePeriod: Duration = .seconds(30),
                logger: Logger = Logger(label: "strata.consumer"),
                handler: @escaping @Sendable (Message) async throws -> Void) {
        self.init(store: store, queue: queue, maxConcurrent: maxConcurrent, prefetch: prefetch, lockDuration: lockDuration,
                  gracePeriod: gracePeriod, logger: logger, receivedHandler: { try await handler($0.message) })
    }

    /// A consumer whose handler also sees the lock (token and end).
    @_disfavoredOverload
    public init(store: any MessageStore, queue: String, maxConcurrent: Int = 1, prefetch: Int? = nil,
                lockDuration: Duration? = nil, gracePeriod: Duration = .seconds(30),
                logger: Logger = Logger(label: "strata.consumer"),
                handler: @escaping Handler) {
        self.init(store: store, queue: queue, maxConcurrent: maxConcurrent, prefetch: prefetch, lockDuration: lockDuration,
                  gracePeriod: gracePeriod, logger: logger, receivedHandler: handler)
    }

    private init(store: any MessageStore, queue: String, maxConcurrent: Int, prefetch: Int?, lockDuration: Duration?,
                 gracePeriod: Duration, logger: Logger, receivedHandler: @escaping Handler) {
        self.store = store
        self.queue = queue
        self.maxConcurrent = max(1, maxConcurrent)
        self.prefetch = max(0, prefetch ?? maxConcurrent)
        self.lockDuration = lockDuration
        self.gracePeriod = gracePeriod
        self.logger = logger
        self.handler = receivedHandler
    }

    public func run() async throws {
        let run = ConsumerRun(self)
        await withGracefulShutdownHandler {
            await run.consume()
        } onGracefulShutdown: {
            run.beginShutdown()
        }
        if let failure = run.failure { throw failure }
    }
}

/// One `run()` of a consumer: a receiver filling a buffer, `maxConcurrent`
/// workers taking from it, and the shutdown sequence.
private final class ConsumerRun: Sendable {
    private struct Buffered {
        var received: ReceivedMessage
        var at: Date
    }
    private struct State {
        var stopping = false
        /// Received, not yet taken by a worker.
        var buffered: [Buffered] = []
        /// Workers running a handler.
        var busy = 0
        var idleWorkers: [CheckedContinuation<Buffered?, Never>] = []
        var receiverWaiting: CheckedContinuation<Int?, Never>?
        var receiveTask: Task<[ReceivedMessage], any Error>?
        /// Why receiving stopped, when the store did it (closed).
        var failure: (any Error)?
    }
    private enum Ended { case worker, timer }
    private let c: QueueConsumer
    private let state = StoreLock(State())

    init(_ c: QueueConsumer) { self.c = c }

    private var capacity: Int { c.maxConcurrent + c.prefetch }

    /// The store error that ended the run, if one did.
    var failure: (any Error)? { state.withLock { $0.failure } }

    /// Stops receiving and wakes every waiter; idempotent. A receive in
    /// progress is left to end (within its one-second poll; what it got is
    /// abandoned) unless `cancelReceive`: a receive cancelled while a
    /// network store locks rows may lock messages it never returns (they
    /// come back only when the lock ends), so only `run()`'s cancellation
    /// cuts it short.
    func beginShutdown(cancelReceive: Bool = false) {
        let (workers, receiver, task) = state.withLock { s in
            s.stopping = true
            defer {
                s.idleWorkers = []
                s.receiverWaiting = nil
            }
            return (s.idleWorkers, s.receiverWaiting, s.receiveTask)
        }
        if cancelReceive { task?.cancel() }
        receiver?.resume(returning: nil)
        for w in workers { w.resume(returning: nil) }
    }

    func consume() async {
        await withTaskGroup(of: Ended.self) { group in
            for _ in 0..<c.maxConcurrent {
                group.addTask {
                    await self.work()
                    return .worker
                }
            }
            await withTaskCancellationHandler {
                await receiveLoop()
            } onCancel: {
                beginShutdown(cancelReceive: true)
            }
            beginShutdown()
            // Prefetched messages go back at once.
            let left = state.withLock { s in
                defer { s.buffered = [] }
                return s.buffered
            }
            for b in left { await settle(b.received, abandon: true) }
            // Running handlers get the grace period (none when run() was cancelled).
            let grace = Task.isCancelled ? Duration.zero : c.gracePeriod
            group.addTask {
                try? await Task.sleep(for: grace)
                return .timer
            }
            var workers = c.maxConcurrent
            while workers > 0, let ended = await group.next() {
                switch ended {
                case .worker: workers -= 1
                case .timer:
                    c.logger.warning("consumer grace period over: cancelling running handlers", metadata: ["queue": "\(c.queue)"])
                    group.cancelAll()
                }
            }
            group.cancelAll()
        }
    }

    private func receiveLoop() async {
        while true {
            let room: Int? = await withCheckedContinuation { k in
                let now = state.withLock { s -> Int?? in
                    if s.stopping { return .some(nil) }
                    let room = capacity - s.busy - s.buffered.count
                    if room > 0 { return .some(room) }
                    s.receiverWaiting = k
                    return .none
                }
                if let now { k.resume(returning: now) }
            }
            guard let room else { return }
            c.logger.trace("consumer receiving", metadata: ["queue": "\(c.queue)", "room": "\(room)"])
            let task = Task { [c] in
                try await c.store.receive(queue: c.queue, limit: room, lockDuration: c.lockDuration, maxWait: .seconds(1))
            }
            if state.withLock({ s in
                s.receiveTask = task
                return s.stopping
            }) { task.cancel() }
            var got: [ReceivedMessage] = []
            do { got = try await task.value } catch is CancellationError {} catch {
                if let e = error as? MessageStoreError, e.kind == .closed {
                    // Nothing more can be received or settled: end the run with the error.
                    state.withLock { $0.failure = e }
                    return
                }
                c.logger.error("consumer receive failed", metadata: ["queue": "\(c.queue)", "error": "\(error)"])
                try? await Task.sleep(for: .milliseconds(200))
            }
            c.logger.trace("consumer received", metadata: ["queue": "\(c.queue)", "count": "\(got.count)"])
            let now = Date()
            let (handOut, back) = state.withLock { s -> ([(CheckedContinuation<Buffered?, Never>, Buffered)], [ReceivedMessage]) in
                s.receiveTask = nil
                if s.stopping { return ([], got) }
                var handOut: [(CheckedContinuation<Buffered?, Never>, Buffered)] = []
                for r in got {
                    let b = Buffered(received: r, at: now)
                    if !s.idleWorkers.isEmpty {
                        s.busy += 1
                        handOut.append((s.idleWorkers.removeFirst(), b))
                    } else {
                        s.buffered.append(b)
                    }
                }
                return (handOut, [])
            }
            for (w, b) in handOut { w.resume(returning: b) }
            for r in back { await settle(r, abandon: true) }
        }
    }

    /// A worker: takes buffered messages and handles them until shutdown.
    private func work() async {
        while let b = await take() {
            await handle(b)
            finished()
        }
    }

    private func take() async -> Buffered? {
        await withCheckedContinuation { k in
            let now = state.withLock { s -> Buffered?? in
                // Once stopping, prefetched messages are the shutdown's to abandon.
                if s.stopping || Task.isCancelled { return .some(nil) }
                if !s.buffered.isEmpty {
                    s.busy += 1
                    return .some(s.buffered.removeFirst())
                }
                s.idleWorkers.append(k)
                return .none
            }
            if let now { k.resume(returning: now) }
        }
    }

    /// A handler ended: tell the receiver there is room.
    private func finished() {
        let wake = state.withLock { s -> (CheckedContinuation<Int?, Never>, Int)? in
            s.busy -= 1
            let room = capacity - s.busy - s.buffered.count
            guard room > 0, let w = s.receiverWaiting else { return nil }
            s.receiverWaiting = nil
            return (w, room)
        }
        if let (receiver, room) = wake { receiver.resume(returning: room) }
    }

    private func handle(_ b: Buffered) async {
        var r = b.received
        c.logger.trace("consumer handling", metadata: ["message": "\(r.message.id)", "deliveryCount": "\(r.message.deliveryCount)"])
        // A prefetched message that waited a third of its lock is renewed
        // first; one whose lock is gone is left to the store (another
        // receiver may hold it now).
        let span = r.lockedUntil.timeIntervalSince(b.at)
        if Date().timeIntervalSince(b.at) > span / 3 {
            do { r.lockedUntil = try await c.store.renewLock(r.lockToken) } catch {
                c.logger.warning("consumer skipped a prefetched message whose lock was lost",
                                 metadata: ["message": "\(r.message.id)", "error": "\(error)"])
                return
            }
        }
        let renewal = Task { [r] in await renew(r) }
        var outcome: Result<Void, any Error>
        do {
            try await c.handler(r)
            outcome = .success(())
        } catch {
            outcome = .failure(error)
        }
        renewal.cancel()
        await renewal.value
        if Task.isCancelled {
            // The grace period ended under this handler: its message goes back.
            outcome = .failure(CancellationError())
        }
        switch outcome {
        case .success: await settle(r, abandon: false)
        case .failure(let e as DeadLetterError):
            do { try await uncancelled { [c, token = r.lockToken] in try await c.store.deadLetter(token, reason: e.reason) } } catch {
                c.logger.warning("consumer could not dead-letter", metadata: ["message": "\(r.message.id)", "error": "\(error)"])
            }
        case .failure(let e):
            if !(e is CancellationError) {
                c.logger.debug("handler failed: abandoning", metadata: ["message": "\(r.message.id)", "error": "\(e)"])
            }
            await settle(r, abandon: true)
        }
    }

    private func settle(_ r: ReceivedMessage, abandon: Bool) async {
        do {
            try await uncancelled { [c] in
                if abandon { try await c.store.abandon(r.lockToken) } else { try await c.store.complete(r.lockToken) }
            }
        } catch {
            c.logger.warning("consumer could not \(abandon ? "abandon" : "complete")",
                             metadata: ["message": "\(r.message.id)", "error": "\(error)"])
        }
    }

    /// Runs a settlement even when the task is cancelled (`run()` cancelled,
    /// or the grace period over): a store that honours cancellation would
    /// refuse it and leave the message locked until its lock ends.
    private func uncancelled(_ body: @escaping @Sendable () async throws -> Void) async throws {
        guard Task.isCancelled else { return try await body() }
        try await Task { try await body() }.value
    }

    /// Renews `r`'s lock at a third of its remaining time until cancelled.
    private func renew(_ r: ReceivedMessage) async {
        var until = r.lockedUntil
        while !Task.isCancelled {
            let wait = max(0.01, until.timeIntervalSinceNow / 3)
            do { try await Task.sleep(for: .milliseconds(Int64(wait * 1000))) } catch { return }
            do { until = try await c.store.renewLock(r.lockToken) } catch {
                if Task.isCancelled { return }
                c.logger.warning("consumer lost a lock", metadata: ["message": "\(r.message.id)", "error": "\(error)"])
                return
            }
            c.logger.trace("consumer renewed a lock", metadata: ["message": "\(r.message.id)",
                                                                "lockedUntil": "\(until.timeIntervalSince1970)"])
        }
    }
}
