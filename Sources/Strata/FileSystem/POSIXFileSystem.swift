import Glibc

/// The default `FileSystem`: POSIX calls on the local disk.
public struct POSIXFileSystem: FileSystem {
    /// Creates the POSIX file system.
    public init() {}

    static func errnoError(_ op: String, _ path: String, _ code: Int32 = errno) -> StrataError {
        let text = String(cString: strerror(code))
        if code == ENOENT { return StrataError(.notFound, "\(op) \(path): \(text)") }
        return StrataError(.ioError, "\(op) \(path): \(text)")
    }

    public func createFile(at path: String) throws -> any WritableFile {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        if fd < 0 { throw Self.errnoError("create", path) }
        return POSIXWritableFile(fd: fd, path: path, size: 0, canPreallocate: true)
    }

    public func openForAppend(at path: String) throws -> any WritableFile {
        let (fd, size) = try Self.openWithSize(path, O_WRONLY | O_APPEND | O_CLOEXEC)
        return POSIXWritableFile(fd: fd, path: path, size: size)
    }

    public func openForReading(at path: String) throws -> any ReadableFile {
        let (fd, size) = try Self.openWithSize(path, O_RDONLY | O_CLOEXEC)
        return POSIXReadableFile(fd: fd, path: path, size: size)
    }

    /// Maps the file read-only and shared, so block reads cost no system
    /// call and no copy out of the page cache. Falls back to `pread` when
    /// the file is empty or the mapping fails (address space, limits).
    public func openForMappedReading(at path: String) throws -> any ReadableFile {
        let (fd, size) = try Self.openWithSize(path, O_RDONLY | O_CLOEXEC)
        guard size > 0, size <= UInt64(Int.max) else { return POSIXReadableFile(fd: fd, path: path, size: size) }
        let address = mmap(nil, Int(size), PROT_READ, MAP_SHARED, fd, 0)
        guard let address, address != MAP_FAILED else { return POSIXReadableFile(fd: fd, path: path, size: size) }
        // The mapping keeps the file's pages reachable on its own.
        Glibc.close(fd)
        return POSIXMappedFile(bytes: UnsafeRawBufferPointer(start: address, count: Int(size)), path: path)
    }

    /// Opens `path` with `flags` and returns the descriptor and the file's size.
    private static func openWithSize(_ path: String, _ flags: Int32) throws -> (Int32, UInt64) {
        let fd = open(path, flags)
        if fd < 0 { throw errnoError("open", path) }
        var st = stat()
        if fstat(fd, &st) != 0 {
            let e = errnoError("stat", path)
            Glibc.close(fd)
            throw e
        }
        return (fd, UInt64(st.st_size))
    }

    public func rename(_ from: String, to: String) throws {
        if Glibc.rename(from, to) != 0 { throw Self.errnoError("rename to \(to)", from) }
    }

    public func hardLink(_ from: String, to: String) throws {
        if Glibc.link(from, to) != 0 { throw Self.errnoError("link to \(to)", from) }
    }

    public func removeFile(at path: String) throws {
        if unlink(path) != 0 { throw Self.errnoError("remove", path) }
    }

    public func removeDirectory(at path: String) throws {
        if rmdir(path) != 0 { throw Self.errnoError("rmdir", path) }
    }

    public func listDirectory(at path: String) throws -> [String] {
        guard let dir = opendir(path) else { throw Self.errnoError("list", path) }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    public func createDirectory(at path: String) throws {
        if isDirectory(at: path) { return }
        var parent = path
        while parent.hasSuffix("/") && parent.count > 1 { parent.removeLast() }
        if let slash = parent.lastIndex(of: "/"), slash != parent.startIndex {
            try createDirectory(at: String(parent[..<slash]))
        }
        if mkdir(path, 0o755) != 0 && errno != EEXIST { throw Self.errnoError("mkdir", path) }
    }

    public func syncDirectory(at path: String) throws {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd < 0 { throw Self.errnoError("open directory", path) }
        defer { Glibc.close(fd) }
        if fsync(fd) != 0 { throw Self.errnoError("fsync directory", path) }
    }

    public func fileExists(at path: String) -> Bool {
        access(path, F_OK) == 0
    }

    public func isDirectory(at path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    public func fileSize(at path: String) throws -> UInt64 {
        var st = stat()
        if stat(path, &st) != 0 { throw Self.errnoError("stat", path) }
        return UInt64(st.st_size)
    }

    public func lockFile(at path: String) throws -> any FileLock {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        if fd < 0 { throw Self.errnoError("open lock", path) }
        // flock locks belong to the open file description, so a second open
        // in the same process conflicts too (fcntl locks would not).
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let code = errno
            Glibc.close(fd)
            if code == EWOULDBLOCK {
                throw StrataError(.busy, "\(path): the database is locked by another handle")
            }
            throw Self.errnoError("lock", path, code)
        }
        return POSIXFileLock(fd: fd)
    }
}

/// Buffers appends in user space and writes them out in large chunks.
/// Access is serialized by the engine (the log writer, a table builder);
/// the class itself is not synchronized.
final class POSIXWritableFile: WritableFile, @unchecked Sendable {
    private var fd: Int32
    private let path: String
    private var buffer: UnsafeMutableRawPointer
    private var buffered = 0
    private let capacity = 64 * 1024
    private(set) var size: UInt64
    /// Whether `preallocate` may write past the data: not for files opened
    /// with O_APPEND, where every write goes to the end of the file.
    private let canPreallocate: Bool
    /// End of the zeros written by `preallocate` (0 when none); the data
    /// end (`size`) is at or below it until appends pass it.
    private var preallocatedEnd: UInt64 = 0

    init(fd: Int32, path: String, size: UInt64, canPreallocate: Bool = false) {
        self.fd = fd
        self.path = path
        self.size = size
        self.canPreallocate = canPreallocate
        self.buffer = UnsafeMutableRawPointer.allocate(byteCount: 64 * 1024, alignment: 16)
    }

    /// Writes zeros with `pwrite` past the data, which leaves the file
    /// offset (where buffered data goes next) alone.
    func preallocate(upTo end: UInt64) throws {
        guard canPreallocate, fd >= 0 else { return }
        var at = max(size, preallocatedEnd)
        guard end > at else { return }
        let chunk = 64 * 1024
        let zeros = UnsafeMutableRawPointer.allocate(byteCount: chunk, alignment: 16)
        defer { zeros.deallocate() }
        zeros.initializeMemory(as: UInt8.self, repeating: 0, count: chunk)
        while at < end {
            let n = Int(min(UInt64(chunk), end - at))
            let r = pwrite(fd, zeros, n, off_t(at))
            if r < 0 {
                if errno == EINTR { continue }
                throw POSIXFileSystem.errnoError("preallocate", path)
            }
            at += UInt64(r)
        }
        preallocatedEnd = end
    }

    deinit {
        if fd >= 0 {
            try? flush()
            Glibc.close(fd)
        }
        buffer.deallocate()
    }

    func append(_ bytes: UnsafeRawBufferPointer) throws {
        guard fd >= 0 else { throw StrataError(.ioError, "\(path): append after close") }
        let n = bytes.count
        if n == 0 { return }
        if buffered + n <= capacity {
            (buffer + buffered).copyMemory(from: bytes.baseAddress!, byteCount: n)
            buffered += n
            size += UInt64(n)
            return
        }
        try flush()
        if n >= capacity {
            try writeFully(bytes.baseAddress!, n)
        } else {
            buffer.copyMemory(from: bytes.baseAddress!, byteCount: n)
            buffered = n
        }
        size += UInt64(n)
    }

    private func writeFully(_ p: UnsafeRawPointer, _ count: Int) throws {
        var done = 0
        while done < count {
            let r = write(fd, p + done, count - done)
            if r < 0 {
                if errno == EINTR { continue }
                throw POSIXFileSystem.errnoError("write", path)
            }
            done += r
        }
    }

    func flush() throws {
        guard buffered > 0 else { return }
        let n = buffered
        buffered = 0
        try writeFully(buffer, n)
    }

    func sync() throws {
        try flush()
        if fdatasync(fd) != 0 { throw POSIXFileSystem.errnoError("fdatasync", path) }
    }

    func close() throws {
        guard fd >= 0 else { return }
        defer {
            Glibc.close(fd)
            fd = -1
        }
        try flush()
        // Trim the zeros `preallocate` left past the data.
        if preallocatedEnd > size, ftruncate(fd, off_t(size)) != 0 {
            throw POSIXFileSystem.errnoError("truncate", path)
        }
    }
}

final class POSIXReadableFile: ReadableFile, @unchecked Sendable {
    // Immutable after init; pread is safe to call concurrently.
    private let fd: Int32
    private let path: String
    let size: UInt64
    private let closed = AtomicFlag()

    init(fd: Int32, path: String, size: UInt64) {
        self.fd = fd
        self.path = path
        self.size = size
    }

    deinit { close() }

    func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        var done = 0
        while done < buffer.count {
            let r = pread(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(done))
            if r < 0 {
                if errno == EINTR { continue }
                throw POSIXFileSystem.errnoError("read at offset \(offset)", path)
            }
            if r == 0 { break }
            done += r
        }
        return done
    }

    func close() {
        if closed.setOnce() { Glibc.close(fd) }
    }
}

/// A file read through a shared read-only mapping of its whole length.
/// The mapping lives as long as the object (a reader may still hold the
/// object after `close()`), so `close()` does nothing. The file must not
/// shrink while mapped: touching a page past its new end raises SIGBUS,
/// which is why only immutable table files are opened this way.
final class POSIXMappedFile: ReadableFile, @unchecked Sendable {
    // Immutable after init.
    private let bytes: UnsafeRawBufferPointer
    private let path: String

    init(bytes: UnsafeRawBufferPointer, path: String) {
        self.bytes = bytes
        self.path = path
    }

    deinit { munmap(UnsafeMutableRawPointer(mutating: bytes.baseAddress!), bytes.count) }

    var size: UInt64 { UInt64(bytes.count) }

    var mappedBytes: UnsafeRawBufferPointer? { bytes }

    func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard offset < UInt64(bytes.count), buffer.count > 0 else { return 0 }
        let n = min(buffer.count, bytes.count - Int(offset))
        buffer.baseAddress!.copyMemory(from: bytes.baseAddress! + Int(offset), byteCount: n)
        return n
    }

    func close() {}
}

final class POSIXFileLock: FileLock, @unchecked Sendable {
    // The fd is released exactly once, guarded by `released`.
    private let fd: Int32
    private let released = AtomicFlag()
    init(fd: Int32) { self.fd = fd }
    deinit { unlock() }
    func unlock() {
        if released.setOnce() {
            flock(fd, LOCK_UN)
            Glibc.close(fd)
        }
    }
}
