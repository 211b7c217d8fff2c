/// Options of every event store backend (LSM, SQLite, PostgreSQL, memory).
public struct EventStoreOptions: Sendable {
    /// When an append returns, relative to durability. Each backend maps
    /// the three modes to its own mechanism (Docs/message-store.md, "Event
    /// streams", has the table).
    public enum CommitMode: Sendable, Equatable {
        /// Nothing is logged: a process crash loses the events not yet in a
        /// table file (LSM), or the last transactions (SQLite
        /// `synchronous=OFF`, PostgreSQL `synchronous_commit=off`).
        case memoryOnly
        /// Logged before return, synced in the background within
        /// `groupWindow`: a process crash loses nothing, a power loss at most
        /// the last window.
        case asyncDurable(groupWindow: Duration)
        /// Synced before return (concurrent appenders share one sync).
        case syncDurable
    }

    /// What an append does with an idempotency key the store already holds.
    public enum DuplicatePolicy: Sendable, Equatable {
        /// The caller gets the LSN the key got the first time; nothing is
        /// appended (a safe retry).
        case returnExisting
        /// The append throws `MessageStoreError` of kind `.duplicateKey`
        /// whose `existingLSN` is the LSN the key got the first time; nothing
        /// of the batch is appended.
        case fail
    }

    /// How payloads and snapshot states are compressed.
    public enum Compression: Sendable, Equatable {
        /// Stored as given.
        case none
        /// LZ4 (liblz4's block format) for payloads and snapshot states of
        /// at least `threshold` bytes, kept only when it saves space. The
        /// algorithm is recorded in every record, so records written under
        /// any setting stay readable under any other.
        case lz4(threshold: Int)
    }

    /// Commit mode of every write (appends, snapshots, compaction).
    public var commitMode: CommitMode = .syncDurable
    /// Compression of payloads and snapshot states (default: LZ4 from 512 bytes).
    public var compression: Compression = .lz4(threshold: 512)
    /// What happens to an append of a known idempotency key.
    public var duplicatePolicy: DuplicatePolicy = .returnExisting

    /// Options with the given values (each defaulted).
    public init(commitMode: CommitMode = .syncDurable, compression: Compression = .lz4(threshold: 512),
                duplicatePolicy: DuplicatePolicy = .returnExisting) {
        self.commitMode = commitMode
        self.compression = compression
        self.duplicatePolicy = duplicatePolicy
    }
}
