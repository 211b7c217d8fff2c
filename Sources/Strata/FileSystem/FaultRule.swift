/// A kind of file-system call, for aiming injected faults.
public enum FileOperation: String, Sendable, Hashable, CaseIterable {
    /// Positional reads.
    case read
    /// Appends (and the flushes that push them to the OS).
    case write
    /// File fsync (`WritableFile.sync`).
    case sync
    /// Directory fsync.
    case syncDirectory
    /// Creating a file, or opening one.
    case create
    /// Renames.
    case rename
    /// Hard links.
    case link
    /// File and directory removal.
    case remove
}

/// One fault to inject into a `FaultInjectionFileSystem`.
public struct FaultRule: Sendable {
    /// When the rule fires, counting only the calls it matches.
    public enum Trigger: Sendable {
        /// Every matching call.
        case always
        /// Only the Nth matching call (1-based).
        case onCall(Int)
        /// The Nth matching call and every one after it.
        case fromCall(Int)
        /// Each matching call with this probability (seeded, repeatable).
        case probability(Double)
    }

    /// What a firing rule does.
    public enum Failure: Sendable {
        /// The call fails with EIO.
        case ioError
        /// The call fails with ENOSPC.
        case noSpace
        /// For writes: only part of the bytes are written, then EIO.
        case shortWrite
    }

    /// The operations the rule applies to.
    public var operations: Set<FileOperation>
    /// When it fires.
    public var trigger: Trigger
    /// What happens when it fires.
    public var failure: Failure
    /// Only paths containing this string (nil = every path).
    public var pathContains: String?

    /// Creates a rule.
    public init(_ operations: Set<FileOperation>, trigger: Trigger = .always, failure: Failure = .ioError, pathContains: String? = nil) {
        self.operations = operations
        self.trigger = trigger
        self.failure = failure
        self.pathContains = pathContains
    }
}
