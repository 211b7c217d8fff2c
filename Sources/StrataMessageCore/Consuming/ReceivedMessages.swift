extension MessageStore {
    /// The messages of `queue` as they become deliverable, each locked for
    /// `lockDuration` (nil = the queue's) — a receive loop without the loop:
    ///
    ///     for try await received in store.messages(queue: "orders", lockDuration: nil) {
    ///         try await store.complete(received.lockToken)
    ///     }
    ///
    /// Built on long polling (`receive(queue:limit:lockDuration:maxWait:)`,
    /// `maxWait` per poll); `prefetch` messages are received at a time and
    /// handed out one by one (their locks run from the receive). The
    /// sequence never ends by itself: it ends (returns nil) when the
    /// iterating task is cancelled, abandoning what it had prefetched but not
    /// handed out. A store error (closed, I/O) ends it by throwing.
    public func messages(queue: String, lockDuration: Duration?, prefetch: Int = 1,
                         maxWait: Duration = .seconds(1)) -> ReceivedMessages {
        ReceivedMessages(store: self, queue: queue, lockDuration: lockDuration, prefetch: max(1, prefetch), maxWait: maxWait)
    }
}

/// The `AsyncSequence` of `MessageStore.messages(queue:lockDuration:)`.
public struct ReceivedMessages: AsyncSequence, Sendable {
    public typealias Element = ReceivedMessage
    let store: any MessageStore
    let queue: String
    let lockDuration: Duration?
    let prefetch: Int
    let maxWait: Duration

    /// Receives in batches of `prefetch`, hands them out one at a time.
    public struct AsyncIterator: AsyncIteratorProtocol {
        let source: ReceivedMessages
        /// Received and not yet handed out; abandoned when the iterator is
        /// dropped or its task cancelled.
        private let buffer: Prefetched

        init(_ source: ReceivedMessages) {
            self.source = source
            buffer = Prefetched(store: source.store)
        }

        public mutating func next() async throws -> ReceivedMessage? {
            while true {
                if Task.isCancelled {
                    await buffer.abandonAll()
                    return nil
                }
                if let m = buffer.pop() { return m }
                let got: [ReceivedMessage]
                do {
                    got = try await source.store.receive(queue: source.queue, limit: source.prefetch,
                                                         lockDuration: source.lockDuration, maxWait: source.maxWait)
                } catch is CancellationError {
                    return nil
                }
                buffer.push(got)
            }
        }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(self) }
}

/// Prefetched messages of one iterator (a class so that dropping the
/// iterator can release their locks).
private final class Prefetched: Sendable {
    private let items = StoreLock<[ReceivedMessage]>([])
    private let store: any MessageStore

    init(store: any MessageStore) { self.store = store }

    func pop() -> ReceivedMessage? {
        items.withLock { $0.isEmpty ? nil : $0.removeFirst() }
    }

    func push(_ got: [ReceivedMessage]) { items.withLock { $0.append(contentsOf: got) } }

    func abandonAll() async {
        let left = items.withLock { i -> [ReceivedMessage] in
            defer { i = [] }
            return i
        }
        for r in left { try? await store.abandon(r.lockToken) }
    }

    deinit {
        let left = items.withLock { $0 }
        guard !left.isEmpty else { return }
        let store = self.store
        Task { for r in left { try? await store.abandon(r.lockToken) } }
    }
}
