/// A file system held entirely in memory: fast enough for thousands of
/// open/crash/reopen cycles in tests. Files are inodes (hard links share
/// one), directories map names to inodes. Behaves like POSIX for what the
/// engine uses; paths are normalized ("a//b/" = "a/b").
///
/// Thread-safe: one lock guards the whole tree.
public final class InMemoryFileSystem: FileSystem, @unchecked Sendable {
    final class Inode {
        var data: [UInt8] = []
    }

    // Guarded by `lock`.
    private let lock = Locked<State>(State())

    struct State {
        var directories: [String: [String: Inode]] = ["/": [:]]
        var locks: Set<String> = []
    }

    /// An empty file system with only the root directory.
    public init() {}

    static func normalize(_ path: String) -> String {
        let parts = path.split(separator: "/", omittingEmptySubsequences: true)
        return "/" + parts.joined(separator: "/")
    }

    static func split(_ path: String) -> (dir: String, name: String) {
        let p = normalize(path)
        guard let slash = p.lastIndex(of: "/") else { return ("/", p) }
        let dir = p[..<slash].isEmpty ? "/" : String(p[..<slash])
        return (dir, String(p[p.index(after: slash)...]))
    }

    private func withState<R>(_ body: (inout State) throws -> R) rethrows -> R {
        try lock.withLock(body)
    }

    func inode(at path: String) -> Inode? {
        let (dir, name) = Self.split(path)
        return withState { $0.directories[dir]?[name] }
    }

    public func createFile(at path: String) throws -> any WritableFile {
        let (dir, name) = Self.split(path)
        let node: Inode = try withState { s in
            guard s.directories[dir] != nil else { throw StrataError(.notFound, "create \(path): no such directory") }
            if s.directories[Self.normalize(path)] != nil { throw StrataError(.ioError, "create \(path): is a directory") }
            let n = s.directories[dir]![name] ?? Inode()
            n.data.removeAll()
            s.directories[dir]![name] = n
            return n
        }
        return InMemoryWritableFile(inode: node, lock: lock, path: path)
    }

    public func openForAppend(at path: String) throws -> any WritableFile {
        guard let node = inode(at: path) else { throw StrataError(.notFound, "open \(path): no such file") }
        return InMemoryWritableFile(inode: node, lock: lock, path: path)
    }

    public func openForReading(at path: String) throws -> any ReadableFile {
        guard let node = inode(at: path) else { throw StrataError(.notFound, "open \(path): no such file") }
        let size = withState { _ in UInt64(node.data.count) }
        return InMemoryReadableFile(inode: node, lock: lock, size: size)
    }

    public func rename(_ from: String, to: String) throws {
        let (fd, fn) = Self.split(from), (td, tn) = Self.split(to)
        let source = Self.normalize(from), target = Self.normalize(to)
        if isDirectory(at: source) {
            // A directory moves with everything below it; the target must
            // not exist or be an empty directory, as with rename(2).
            try withState { s in
                guard s.directories[td] != nil else { throw StrataError(.notFound, "rename to \(to): no such directory") }
                if s.directories[td]![tn] != nil { throw StrataError(.ioError, "rename \(from) to \(to): target is a file") }
                if let existing = s.directories[target] {
                    let prefix = target + "/"
                    if !existing.isEmpty || s.directories.keys.contains(where: { $0.hasPrefix(prefix) }) {
                        throw StrataError(.ioError, "rename \(from) to \(to): directory not empty")
                    }
                }
                let prefix = source + "/"
                for key in Array(s.directories.keys) where key == source || key.hasPrefix(prefix) {
                    let moved = target + key.dropFirst(source.count)
                    s.directories[moved] = s.directories.removeValue(forKey: key)
                }
            }
            _ = (fd, fn)
            return
        }
        try withState { s in
            guard let node = s.directories[fd]?[fn] else { throw StrataError(.notFound, "rename \(from): no such file") }
            guard s.directories[td] != nil else { throw StrataError(.notFound, "rename to \(to): no such directory") }
            s.directories[fd]![fn] = nil
            s.directories[td]![tn] = node
        }
    }

    public func hardLink(_ from: String, to: String) throws {
        let (fd, fn) = Self.split(from), (td, tn) = Self.split(to)
        try withState { s in
            guard let node = s.directories[fd]?[fn] else { throw StrataError(.notFound, "link \(from): no such file") }
            guard s.directories[td] != nil else { throw StrataError(.notFound, "link to \(to): no such directory") }
            if s.directories[td]![tn] != nil { throw StrataError(.ioError, "link to \(to): file exists") }
            s.directories[td]![tn] = node
        }
    }

    public func removeFile(at path: String) throws {
        let (dir, name) = Self.split(path)
        try withState { s in
            guard s.directories[dir]?[name] != nil else { throw StrataError(.notFound, "remove \(path): no such file") }
            s.directories[dir]![name] = nil
        }
    }

    public func removeDirectory(at path: String) throws {
        let p = Self.normalize(path)
        try withState { s in
            guard let entries = s.directories[p] else { throw StrataError(.notFound, "rmdir \(path): no such directory") }
            let prefix = p == "/" ? "/" : p + "/"
            if !entries.isEmpty || s.directories.keys.contains(where: { $0.hasPrefix(prefix) && $0 != p }) {
                throw StrataError(.ioError, "rmdir \(path): directory not empty")
            }
            s.directories[p] = nil
        }
    }

    public func listDirectory(at path: String) throws -> [String] {
        let p = Self.normalize(path)
        return try withState { s in
            guard let entries = s.directories[p] else { throw StrataError(.notFound, "list \(path): no such directory") }
            let prefix = p == "/" ? "/" : p + "/"
            var names = Array(entries.keys)
            for d in s.directories.keys where d.hasPrefix(prefix) && d != p {
                let rest = d.dropFirst(prefix.count)
                if !rest.contains("/") { names.append(String(rest)) }
            }
            return names.sorted()
        }
    }

    public func createDirectory(at path: String) throws {
        let p = Self.normalize(path)
        withState { s in
            var current = ""
            for part in p.split(separator: "/") {
                current += "/" + part
                if s.directories[current] == nil { s.directories[current] = [:] }
            }
        }
    }

    public func syncDirectory(at path: String) throws {
        if !isDirectory(at: path) { throw StrataError(.notFound, "fsync directory \(path): no such directory") }
    }

    public func fileExists(at path: String) -> Bool {
        inode(at: path) != nil || isDirectory(at: path)
    }

    public func isDirectory(at path: String) -> Bool {
        let p = Self.normalize(path)
        return withState { $0.directories[p] != nil }
    }

    public func fileSize(at path: String) throws -> UInt64 {
        guard let node = inode(at: path) else { throw StrataError(.notFound, "stat \(path): no such file") }
        return withState { _ in UInt64(node.data.count) }
    }

    public func lockFile(at path: String) throws -> any FileLock {
        let p = Self.normalize(path)
        let (dir, name) = Self.split(path)
        try withState { s in
            if s.locks.contains(p) { throw StrataError(.busy, "\(path): the database is locked by another handle") }
            guard s.directories[dir] != nil else { throw StrataError(.notFound, "lock \(path): no such directory") }
            if s.directories[dir]![name] == nil { s.directories[dir]![name] = Inode() }
            s.locks.insert(p)
        }
        return InMemoryFileLock(release: { [weak self] in self?.lock.withLock { _ = $0.locks.remove(p) } })
    }

    /// Truncates a file to `size` bytes (used to simulate lost writes).
    public func truncateFile(at path: String, to size: UInt64) throws {
        guard let node = inode(at: path) else { throw StrataError(.notFound, "truncate \(path): no such file") }
        withState { _ in
            if UInt64(node.data.count) > size { node.data.removeSubrange(Int(size)...) }
        }
    }

    /// Drops every lock, as the death of the process holding them would.
    public func releaseAllLocks() {
        withState { $0.locks.removeAll() }
    }
}

final class InMemoryWritableFile: WritableFile, @unchecked Sendable {
    // `inode.data` is guarded by the file system's lock.
    private let inode: InMemoryFileSystem.Inode
    private let lock: Locked<InMemoryFileSystem.State>
    private let path: String
    private var closed = false

    init(inode: InMemoryFileSystem.Inode, lock: Locked<InMemoryFileSystem.State>, path: String) {
        self.inode = inode
        self.lock = lock
        self.path = path
    }

    func append(_ bytes: UnsafeRawBufferPointer) throws {
        if closed { throw StrataError(.ioError, "\(path): append after close") }
        lock.withLock { _ in inode.data.append(contentsOf: bytes) }
    }

    func flush() throws {}
    func sync() throws {}
    func close() throws { closed = true }
    var size: UInt64 { lock.withLock { _ in UInt64(inode.data.count) } }
}

final class InMemoryReadableFile: ReadableFile, @unchecked Sendable {
    private let inode: InMemoryFileSystem.Inode
    private let lock: Locked<InMemoryFileSystem.State>
    let size: UInt64

    init(inode: InMemoryFileSystem.Inode, lock: Locked<InMemoryFileSystem.State>, size: UInt64) {
        self.inode = inode
        self.lock = lock
        self.size = size
    }

    func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        lock.withLock { _ in
            let data = inode.data
            guard offset < UInt64(data.count) else { return 0 }
            let n = min(buffer.count, data.count - Int(offset))
            data.withUnsafeBytes { src in
                buffer.baseAddress!.copyMemory(from: src.baseAddress! + Int(offset), byteCount: n)
            }
            return n
        }
    }

    func close() {}
}

final class InMemoryFileLock: FileLock, @unchecked Sendable {
    private let release: @Sendable () -> Void
    private let released = AtomicFlag()
    init(release: @escaping @Sendable () -> Void) { self.release = release }
    deinit { unlock() }
    func unlock() { if released.setOnce() { release() } }
}
