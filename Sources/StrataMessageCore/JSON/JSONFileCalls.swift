#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// The system calls the JSON store's files go through (`JSONFileSet`), as
/// values so a test can make one fail (a full disk, an I/O error, a rename
/// refused) and check the store's error and files. Each call behaves like
/// its POSIX namesake: -1 and `errno` on failure.
package struct JSONFileCalls: Sendable {
    package var open: @Sendable (_ path: String, _ flags: Int32, _ mode: mode_t) -> Int32
    package var read: @Sendable (_ fd: Int32, _ into: UnsafeMutableRawPointer, _ count: Int) -> Int
    package var write: @Sendable (_ fd: Int32, _ from: UnsafeRawPointer, _ count: Int) -> Int
    package var fsync: @Sendable (_ fd: Int32) -> Int32
    package var rename: @Sendable (_ from: String, _ to: String) -> Int32
    package var link: @Sendable (_ from: String, _ to: String) -> Int32

    /// The operating system's calls.
    package static let system = JSONFileCalls(
        open: { Glibc.open($0, $1, $2) },
        read: { Glibc.read($0, $1, $2) },
        write: { Glibc.write($0, $1, $2) },
        fsync: { Glibc.fsync($0) },
        rename: { Glibc.rename($0, $1) },
        link: { Glibc.link($0, $1) })

    /// The error kind of a failed file operation: a full disk or quota is
    /// `.storageFull`, anything else the OS reports `.ioError`.
    static func failure(_ what: String, _ path: String, errno code: Int32) -> MessageStoreError {
        let full = code == ENOSPC || code == EDQUOT || code == EFBIG
        return MessageStoreError(full ? .storageFull : .ioError, "\(what) \(path): \(String(cString: strerror(code)))",
                                 underlying: POSIXError(POSIXErrorCode(rawValue: code) ?? .EIO))
    }
}
