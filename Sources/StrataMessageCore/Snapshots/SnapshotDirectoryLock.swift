import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// An exclusive `flock` on `<snapshot directory>/.lock`, held while a
/// snapshot is created, deleted or restored: two creates (in one process
/// or two sharing a SQLite file) must not clean up each other's staging
/// directories. flock locks belong to the open file description, so two
/// opens in one process exclude each other too.
package final class SnapshotDirectoryLock: Sendable {
    private let fd: Int32

    private init(fd: Int32) { self.fd = fd }

    /// Waits (off the cooperative pool) until the lock of `directory` is ours.
    package static func acquire(_ directory: String) async throws -> SnapshotDirectoryLock {
        try await offload {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let path = directory + "/.lock"
            let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw MessageStoreError(.ioError, "cannot open \(path): errno \(errno)") }
            while flock(fd, LOCK_EX) != 0 {
                if errno == EINTR { continue }
                let code = errno
                close(fd)
                throw MessageStoreError(.ioError, "cannot lock \(path): errno \(code)")
            }
            return SnapshotDirectoryLock(fd: fd)
        }
    }

    deinit { close(fd) }  // closing the descriptor releases the flock
}
