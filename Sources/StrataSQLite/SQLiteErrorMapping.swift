import CSQLite
import StrataMessageCore

/// An SQLite result code with its message: the `underlying` error of the
/// `MessageStoreError`s the SQLite store throws.
public struct SQLiteResultError: Error, Sendable, CustomStringConvertible {
    /// The primary result code (`SQLITE_FULL`, `SQLITE_BUSY`, …).
    public let code: Int32
    /// The extended result code.
    public let extendedCode: Int32
    /// `sqlite3_errmsg` at the time of the failure.
    public let message: String
    public var description: String { "SQLite error \(code) (extended \(extendedCode)): \(message)" }
}

extension MessageStoreError.Kind {
    /// The kind a broker branches on for an SQLite result code: a full disk
    /// or size limit is `.storageFull`, I/O `.ioError`, a damaged file
    /// `.corruption`, a read-only file `.readOnly`, a busy or locked database
    /// and interrupted or out-of-memory calls `.unavailable` (retryable),
    /// anything else (constraint, misuse, bad open path) `.invalidArgument`.
    init(sqliteCode code: Int32) {
        switch code & 0xFF {
        case SQLITE_FULL: self = .storageFull
        case SQLITE_IOERR, SQLITE_CANTOPEN, SQLITE_PROTOCOL: self = .ioError
        case SQLITE_CORRUPT, SQLITE_NOTADB, SQLITE_FORMAT: self = .corruption
        case SQLITE_READONLY, SQLITE_PERM: self = .readOnly
        case SQLITE_BUSY, SQLITE_LOCKED, SQLITE_INTERRUPT, SQLITE_NOMEM: self = .unavailable
        default: self = .invalidArgument
        }
    }
}
