/// The engine's seam to storage. Every byte Strata reads or writes goes
/// through a `FileSystem`, so tests (and users testing their own crash
/// safety) can substitute one that injects faults or simulates power loss.
///
/// Durability contract the engine relies on:
/// - data appended to a `WritableFile` is durable only after `sync()`;
/// - a created, renamed or removed directory entry is durable only after
///   `syncDirectory(_:)` on its parent.
public protocol FileSystem: Sendable {
    /// Creates (or truncates) a file for appending.
    func createFile(at path: String) throws -> any WritableFile
    /// Opens an existing file for appending at its end.
    func openForAppend(at path: String) throws -> any WritableFile
    /// Opens an existing file for positional reads.
    func openForReading(at path: String) throws -> any ReadableFile
    /// Opens an existing file that nobody will change while it is open (a
    /// table file) for reads through a memory mapping, when the file system
    /// can map files; `ReadableFile.mappedBytes` then exposes its bytes.
    /// The default opens it with `openForReading`.
    func openForMappedReading(at path: String) throws -> any ReadableFile
    /// Atomically replaces `to` with `from`.
    func rename(_ from: String, to: String) throws
    /// Creates a hard link `to` naming the same file as `from`.
    func hardLink(_ from: String, to: String) throws
    /// Removes a file.
    func removeFile(at path: String) throws
    /// Removes an empty directory.
    func removeDirectory(at path: String) throws
    /// Names (not paths) of the entries of a directory, without "." and "..".
    func listDirectory(at path: String) throws -> [String]
    /// Creates a directory (and missing parents). No error if it exists.
    func createDirectory(at path: String) throws
    /// Makes the directory's entries durable (fsync on the directory).
    func syncDirectory(at path: String) throws
    /// Whether anything exists at `path`.
    func fileExists(at path: String) -> Bool
    /// Whether `path` is a directory.
    func isDirectory(at path: String) -> Bool
    /// Size of the file in bytes.
    func fileSize(at path: String) throws -> UInt64
    /// Takes an exclusive lock on `path` (creating it); throws `.busy` when
    /// another handle, in this process or another, holds it.
    func lockFile(at path: String) throws -> any FileLock
}

/// A file open for appending. Not safe for concurrent use; the engine
/// serializes access to each one.
public protocol WritableFile: AnyObject, Sendable {
    /// Appends bytes (buffered; see `flush`).
    func append(_ bytes: UnsafeRawBufferPointer) throws
    /// Hands buffered bytes to the operating system (survives a process crash).
    func flush() throws
    /// Flushes and makes the bytes durable (fdatasync; survives power loss).
    func sync() throws
    /// Flushes and closes.
    func close() throws
    /// Bytes appended so far.
    var size: UInt64 { get }
    /// See the extension's default: writes zeros ahead of the data.
    func preallocate(upTo end: UInt64) throws
}

extension WritableFile {
    /// Writes zeros from the end of the data up to offset `end` (no-op when
    /// already there), so that later appends up to `end` overwrite blocks
    /// the file already has and change no file metadata: an fdatasync after
    /// such an append is a single data flush, with no journal commit for a
    /// new file size. `size` keeps reporting the data's size. The zeros
    /// become durable with the next `sync`; `close` trims them off again.
    /// Readers of the file must take zero-filled space as its end (the log
    /// reader does; Docs/format-wal.md). The default does nothing, which is
    /// always correct, only slower to sync.
    public func preallocate(upTo end: UInt64) throws {}

    /// Appends the bytes of an array.
    public func append(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try append($0) }
    }
}

/// A file open for positional reads; safe to use from many threads at once.
public protocol ReadableFile: AnyObject, Sendable {
    /// Reads up to `buffer.count` bytes at `offset`; returns how many were read
    /// (fewer only at end of file).
    func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws -> Int
    /// The file's size when opened.
    var size: UInt64 { get }
    /// The whole file's bytes when it is memory-mapped (see
    /// `FileSystem.openForMappedReading`), valid while the file object
    /// lives; nil when reads go through `read(at:into:)`.
    var mappedBytes: UnsafeRawBufferPointer? { get }
    /// Closes the file.
    func close()
}

extension FileSystem {
    public func openForMappedReading(at path: String) throws -> any ReadableFile {
        try openForReading(at: path)
    }
}

extension ReadableFile {
    public var mappedBytes: UnsafeRawBufferPointer? { nil }

    /// Reads exactly `count` bytes at `offset` into a new array; a short read
    /// is a `.corruption` error naming `path`.
    func readExactly(at offset: UInt64, count: Int, path: String) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        let n = try out.withUnsafeMutableBytes { try read(at: offset, into: $0) }
        if n != count {
            throw StrataError(.corruption, "\(path): short read at offset \(offset): wanted \(count) bytes, got \(n)")
        }
        return out
    }

    /// Reads the whole file.
    func readAll(path: String) throws -> [UInt8] {
        try readExactly(at: 0, count: Int(size), path: path)
    }
}

/// A held lock; released by `unlock()` or when the object is freed.
public protocol FileLock: AnyObject, Sendable {
    /// Releases the lock.
    func unlock()
}
