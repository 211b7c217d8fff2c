/// The one error type the engine throws.
///
/// `kind` says what class of failure it is; `message` names the file and
/// offset where one applies, so an operator can find the damage.
public struct StrataError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The class of failure.
    public enum Kind: String, Sendable, Equatable {
        /// Stored bytes failed a checksum, length or format check.
        case corruption
        /// The operating system reported an I/O failure.
        case ioError
        /// The caller passed something the engine cannot accept.
        case invalidArgument
        /// A named thing (file, column family, backup) does not exist.
        case notFound
        /// Another handle holds the database lock.
        case busy
        /// An earlier write or background failure stopped all writes.
        case readOnly
        /// The database was closed.
        case closed
    }

    /// The class of failure.
    public let kind: Kind
    /// A human-readable explanation naming file and offset where one applies.
    public let message: String

    /// Creates an error of `kind` with `message`.
    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { "\(kind.rawValue): \(message)" }

    static func corruption(_ m: String) -> StrataError { StrataError(.corruption, m) }
    static func io(_ m: String) -> StrataError { StrataError(.ioError, m) }
    static func invalid(_ m: String) -> StrataError { StrataError(.invalidArgument, m) }
}

/// Any error as a `StrataError` (the engine throws only those; anything else
/// is wrapped as an I/O error).
func asStrataError(_ e: any Error) -> StrataError {
    (e as? StrataError) ?? StrataError(.ioError, "\(e)")
}
