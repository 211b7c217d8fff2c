/// The persistence protocol every backend implements: store before
/// enqueue, delete on ack, reload pending messages on restart.
///
/// Broker semantics beyond this core (peek-lock, dead-letter, topics,
/// duplicate windows) are issue 6's remaining work; see Docs/message-store.md.
public protocol MessageStore: Sendable {
    /// Prepares the store (creates what it needs). Idempotent.
    func initialize() async throws
    /// Stores one message; a duplicate id is `MessageStoreError.duplicateId`.
    func add(_ message: Message) async throws
    /// Stores several messages atomically: all or none.
    func add(contentsOf messages: [Message]) async throws
    /// The message with `id`, or nil.
    func get(id: String) async throws -> Message?
    /// Removes (acknowledges) the message with `id`; no error if absent.
    func remove(id: String) async throws
    /// Up to `limit` messages of `queue`, oldest first.
    func pending(queue: String, limit: Int) async throws -> [Message]
    /// Writes a consistent copy of the store to `path` (which must not exist).
    func backup(to path: String) async throws
    /// Replaces the store's contents with the copy at `path`.
    func restore(from path: String) async throws
    /// Reclaims space held by removed messages.
    func compact() async throws
    /// Flushes and releases the store.
    func close() async throws
}
