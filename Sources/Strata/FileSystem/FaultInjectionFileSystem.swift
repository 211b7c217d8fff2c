import Glibc

/// A `FileSystem` for crash and fault testing, usable by Strata's tests and
/// by users testing their own crash safety on top of Strata.
///
/// It wraps another file system (in memory by default, or POSIX) and
/// remembers what a real disk would still hold after a power loss: each
/// file's size at its last `sync()`, and each directory's entries as of its
/// last `syncDirectory`. `simulatePowerLoss()` then drops every unsynced
/// byte (or keeps a random prefix of them: a torn write) and undoes every
/// create, rename and link not yet made durable by a directory fsync.
/// Removals are not undone (a crash may or may not resurrect a removed file;
/// this model does not).
///
/// Use: run the engine on it, call `crash()` at the moment to simulate,
/// close the old handle (every call now fails, so it cannot write more),
/// call `simulatePowerLoss()` (or `restartAfterProcessCrash()` to keep
/// unsynced bytes, as a process crash does), then reopen.
///
/// Faults: `inject(_:)` adds a `FaultRule` (EIO, ENOSPC or short writes, on
/// chosen operations, on the Nth call, from the Nth call, or at random).
/// Counting: `operationCount(_:pathContains:)` says how many calls of
/// which kind reached it (`resetCounts()` starts again). Hooks:
/// `addHook(_:pathContains:_:)` runs a closure on the calling thread before
/// each matching call (to check what the engine holds at that moment, or to
/// act at an exact step). `skipsDirectorySyncs` makes `syncDirectory` a
/// no-op, so a power loss drops entries an engine believed durable.
public final class FaultInjectionFileSystem: FileSystem, @unchecked Sendable {
    /// A file this wrapper has created or written; its path follows renames.
    final class Tracked {
        var path: String
        var syncedSize: UInt64
        init(path: String, syncedSize: UInt64) {
            self.path = path
            self.syncedSize = syncedSize
        }
    }

    enum EntryChange {
        case created(path: String)
        case renamed(from: String, to: String, replaced: [UInt8]?)
        case linked(path: String)
    }

    struct State {
        var tracked: [String: Tracked] = [:]
        /// Directory entry changes not yet made durable, per directory, in order.
        var pendingEntries: [String: [EntryChange]] = [:]
        var rules: [(rule: FaultRule, calls: Int)] = []
        var dead = false
        var generation = 0
        var rng: UInt64
        var locks: [any FileLock] = []
        var injected = 0
        /// Calls per operation and path, since the last `resetCounts()`.
        var counts: [OperationKey: Int] = [:]
        var hooks: [FileSystemHook] = []
        var skipsDirectorySyncs = false
    }

    struct OperationKey: Hashable {
        let operation: FileOperation
        let path: String
    }

    /// The wrapped file system.
    public let base: any FileSystem
    // Guarded by `state`'s lock.
    let state: Locked<State>

    /// Wraps `base` (in memory by default). `seed` drives random faults and torn writes.
    public init(base: any FileSystem = InMemoryFileSystem(), seed: UInt64 = 1) {
        self.base = base
        self.state = Locked(State(rng: seed | 1))
    }

    // MARK: control

    /// Adds a fault rule.
    public func inject(_ rule: FaultRule) {
        state.withLock { $0.rules.append((rule, 0)) }
    }

    /// Removes every fault rule.
    public func clearFaults() {
        state.withLock { $0.rules.removeAll() }
    }

    /// Makes `syncDirectory` succeed without making entries durable (a
    /// file system that ignores directory fsyncs), or stops doing so.
    public var skipsDirectorySyncs: Bool {
        get { state.withLock { $0.skipsDirectorySyncs } }
        set { state.withLock { $0.skipsDirectorySyncs = newValue } }
    }

    /// Calls of `operations` (every kind by default) that reached this file
    /// system since creation or the last `resetCounts()`, on paths
    /// containing `pathContains` (every path when nil). Counted before
    /// faults fire, so a failed call counts too; calls after `crash()` do not.
    public func operationCount(_ operations: Set<FileOperation> = Set(FileOperation.allCases), pathContains: String? = nil) -> Int {
        state.withLock { s in
            s.counts.reduce(0) { sum, entry in
                guard operations.contains(entry.key.operation) else { return sum }
                if let sub = pathContains, !entry.key.path.contains(sub) { return sum }
                return sum + entry.value
            }
        }
    }

    /// Forgets the counts `operationCount` reports.
    public func resetCounts() {
        state.withLock { $0.counts.removeAll() }
    }

    /// Runs `body(operation, path)` before every later call of `operations`
    /// on a path containing `pathContains` (every path when nil), on the
    /// calling thread, outside the file system's own lock. Before faults
    /// are checked; not after `crash()`.
    public func addHook(_ operations: Set<FileOperation>, pathContains: String? = nil,
                        _ body: @escaping @Sendable (FileOperation, String) -> Void) {
        state.withLock { $0.hooks.append(FileSystemHook(operations: operations, pathContains: pathContains, body: body)) }
    }

    /// Removes every hook.
    public func removeHooks() {
        state.withLock { $0.hooks.removeAll() }
    }

    /// How many faults have fired so far.
    public var injectedFaultCount: Int { state.withLock { $0.injected } }

    /// Simulates the death of the process or machine *now*: every later call
    /// through this file system (and every open file) fails, and held locks
    /// are released, until `simulatePowerLoss()` or `restartAfterProcessCrash()`.
    public func crash() {
        let locks = state.withLock { s -> [any FileLock] in
            s.dead = true
            s.generation += 1
            defer { s.locks.removeAll() }
            return s.locks
        }
        for l in locks { l.unlock() }
    }

    /// After `crash()`: keeps every byte written (the OS had them) and
    /// revives the file system, as after a process crash.
    public func restartAfterProcessCrash() {
        state.withLock { s in
            s.dead = false
            for t in s.tracked.values { t.syncedSize = .max }
            s.tracked.removeAll()
            s.pendingEntries.removeAll()
        }
    }

    /// Crashes (if not yet crashed), then drops what a power loss would: bytes
    /// after each file's last sync (with `tornWrites`, a random prefix of them
    /// survives instead), and directory entries created, renamed or linked
    /// after their directory's last fsync. Then revives the file system.
    public func simulatePowerLoss(tornWrites: Bool = false) throws {
        if !state.withLock({ $0.dead }) { crash() }
        let (files, pending, cuts) = state.withLock { s -> ([Tracked], [String: [EntryChange]], [UInt64]) in
            let files = Array(s.tracked.values)
            let cuts = files.map { _ in Self.nextRandom(&s.rng) }
            return (files, s.pendingEntries, cuts)
        }
        for (i, f) in files.enumerated() {
            guard base.fileExists(at: f.path), let size = try? base.fileSize(at: f.path), size > f.syncedSize else { continue }
            var keep = f.syncedSize
            if tornWrites { keep += cuts[i] % (size - f.syncedSize + 1) }
            try truncate(f.path, to: keep)
        }
        for (_, changes) in pending {
            for change in changes.reversed() {
                switch change {
                case .created(let path), .linked(let path):
                    try? base.removeFile(at: path)
                case .renamed(let from, let to, let replaced):
                    if base.fileExists(at: to) { try? base.rename(to, to: from) }
                    if let replaced {
                        let f = try base.createFile(at: to)
                        try f.append(replaced)
                        try f.close()
                    }
                }
            }
        }
        state.withLock { s in
            s.tracked.removeAll()
            s.pendingEntries.removeAll()
            s.dead = false
        }
    }

    private func truncate(_ path: String, to size: UInt64) throws {
        if let mem = base as? InMemoryFileSystem {
            try mem.truncateFile(at: path, to: size)
        } else if Glibc.truncate(path, off_t(size)) != 0 {
            throw POSIXFileSystem.errnoError("truncate", path)
        }
    }

    static func nextRandom(_ s: inout UInt64) -> UInt64 {
        s ^= s << 13
        s ^= s >> 7
        s ^= s << 17
        return s
    }

    static func parent(_ path: String) -> String {
        var p = path
        while p.hasSuffix("/") && p.count > 1 { p.removeLast() }
        guard let slash = p.lastIndex(of: "/") else { return "." }
        return slash == p.startIndex ? "/" : String(p[..<slash])
    }

    // MARK: faults

    /// Throws if the file system is dead or a rule fires for (op, path).
    /// Returns true when a short write should be simulated.
    func check(_ op: FileOperation, _ path: String, generation: Int? = nil) throws -> Bool {
        let hooks = state.withLock { s -> [FileSystemHook] in
            if s.dead || (generation != nil && generation != s.generation) { return [] }
            s.counts[OperationKey(operation: op, path: path), default: 0] += 1
            return s.hooks.filter { $0.matches(op, path) }
        }
        for h in hooks { h.body(op, path) }
        return try state.withLock { s in
            if s.dead || (generation != nil && generation != s.generation) {
                throw StrataError(.ioError, "\(op.rawValue) \(path): simulated crash (file system is down)")
            }
            for i in s.rules.indices {
                let r = s.rules[i].rule
                guard r.operations.contains(op) else { continue }
                if let sub = r.pathContains, !path.contains(sub) { continue }
                s.rules[i].calls += 1
                let n = s.rules[i].calls
                let fire: Bool
                switch r.trigger {
                case .always: fire = true
                case .onCall(let k): fire = n == k
                case .fromCall(let k): fire = n >= k
                case .probability(let p): fire = Double(Self.nextRandom(&s.rng) % 1_000_000) / 1_000_000 < p
                }
                guard fire else { continue }
                s.injected += 1
                switch r.failure {
                case .ioError: throw StrataError(.ioError, "\(op.rawValue) \(path): Input/output error (injected)")
                case .noSpace: throw StrataError(.ioError, "\(op.rawValue) \(path): No space left on device (injected)")
                case .shortWrite:
                    if op == .write { return true }
                    throw StrataError(.ioError, "\(op.rawValue) \(path): Input/output error (injected)")
                }
            }
            return false
        }
    }

    private func noteEntry(_ path: String, _ change: EntryChange) {
        state.withLock { $0.pendingEntries[Self.parent(path), default: []].append(change) }
    }

    // MARK: FileSystem

    public func createFile(at path: String) throws -> any WritableFile {
        _ = try check(.create, path)
        let existed = base.fileExists(at: path)
        let file = try base.createFile(at: path)
        let (tracked, gen) = state.withLock { s -> (Tracked, Int) in
            let t = Tracked(path: path, syncedSize: 0)
            s.tracked[path] = t
            return (t, s.generation)
        }
        if !existed { noteEntry(path, .created(path: path)) }
        return FaultInjectionWritableFile(fs: self, file: file, tracked: tracked, generation: gen)
    }

    public func openForAppend(at path: String) throws -> any WritableFile {
        _ = try check(.create, path)
        let file = try base.openForAppend(at: path)
        let (tracked, gen) = state.withLock { s -> (Tracked, Int) in
            let t = s.tracked[path] ?? Tracked(path: path, syncedSize: file.size)
            s.tracked[path] = t
            return (t, s.generation)
        }
        return FaultInjectionWritableFile(fs: self, file: file, tracked: tracked, generation: gen)
    }

    public func openForReading(at path: String) throws -> any ReadableFile {
        _ = try check(.create, path)
        let gen = state.withLock { $0.generation }
        return FaultInjectionReadableFile(fs: self, file: try base.openForReading(at: path), path: path, generation: gen)
    }

    public func rename(_ from: String, to: String) throws {
        _ = try check(.rename, from)
        if base.isDirectory(at: from) {
            try base.rename(from, to: to)
            // Files and pending entries below it follow it to its new name.
            let prefix = from.hasSuffix("/") ? from : from + "/"
            let newPrefix = to.hasSuffix("/") ? to : to + "/"
            state.withLock { s in
                for (path, t) in s.tracked where path.hasPrefix(prefix) {
                    s.tracked[path] = nil
                    t.path = newPrefix + path.dropFirst(prefix.count)
                    s.tracked[t.path] = t
                }
                for (dir, changes) in s.pendingEntries where dir == from || dir.hasPrefix(prefix) {
                    s.pendingEntries[dir] = nil
                    let moved = to + dir.dropFirst(from.count)
                    s.pendingEntries[moved, default: []] += changes.map { c in
                        func m(_ p: String) -> String { p.hasPrefix(prefix) ? newPrefix + p.dropFirst(prefix.count) : p }
                        switch c {
                        case .created(let p): return .created(path: m(p))
                        case .linked(let p): return .linked(path: m(p))
                        case .renamed(let f, let t, let r): return .renamed(from: m(f), to: m(t), replaced: r)
                        }
                    }
                }
            }
            noteEntry(to, .renamed(from: from, to: to, replaced: nil))
            return
        }
        let replaced: [UInt8]? = base.fileExists(at: to) ? (try? base.openForReading(at: to).readAll(path: to)) : nil
        try base.rename(from, to: to)
        state.withLock { s in
            if let t = s.tracked.removeValue(forKey: from) {
                t.path = to
                s.tracked[to] = t
            } else {
                s.tracked[to] = nil
            }
        }
        noteEntry(to, .renamed(from: from, to: to, replaced: replaced))
    }

    public func hardLink(_ from: String, to: String) throws {
        _ = try check(.link, from)
        try base.hardLink(from, to: to)
        noteEntry(to, .linked(path: to))
    }

    public func removeFile(at path: String) throws {
        _ = try check(.remove, path)
        try base.removeFile(at: path)
        _ = state.withLock { $0.tracked.removeValue(forKey: path) }
    }

    public func removeDirectory(at path: String) throws {
        _ = try check(.remove, path)
        try base.removeDirectory(at: path)
    }

    public func listDirectory(at path: String) throws -> [String] {
        _ = try check(.read, path)
        return try base.listDirectory(at: path)
    }

    public func createDirectory(at path: String) throws {
        _ = try check(.create, path)
        try base.createDirectory(at: path)
    }

    public func syncDirectory(at path: String) throws {
        _ = try check(.syncDirectory, path)
        if skipsDirectorySyncs { return }
        try base.syncDirectory(at: path)
        var p = path
        while p.hasSuffix("/") && p.count > 1 { p.removeLast() }
        _ = state.withLock { $0.pendingEntries.removeValue(forKey: p) }
    }

    public func fileExists(at path: String) -> Bool { base.fileExists(at: path) }
    public func isDirectory(at path: String) -> Bool { base.isDirectory(at: path) }

    public func fileSize(at path: String) throws -> UInt64 {
        _ = try check(.read, path)
        return try base.fileSize(at: path)
    }

    public func lockFile(at path: String) throws -> any FileLock {
        _ = try check(.create, path)
        let l = try base.lockFile(at: path)
        state.withLock { $0.locks.append(l) }
        return l
    }
}

final class FaultInjectionWritableFile: WritableFile, @unchecked Sendable {
    private let fs: FaultInjectionFileSystem
    private let file: any WritableFile
    private let tracked: FaultInjectionFileSystem.Tracked
    private let generation: Int

    init(fs: FaultInjectionFileSystem, file: any WritableFile, tracked: FaultInjectionFileSystem.Tracked, generation: Int) {
        self.fs = fs
        self.file = file
        self.tracked = tracked
        self.generation = generation
    }

    private var path: String { fs.state.withLock { _ in tracked.path } }

    func append(_ bytes: UnsafeRawBufferPointer) throws {
        if try fs.check(.write, path, generation: generation) {
            try file.append(UnsafeRawBufferPointer(rebasing: bytes[0..<(bytes.count / 2)]))
            try file.flush()
            throw StrataError(.ioError, "write \(path): short write (injected)")
        }
        try file.append(bytes)
    }

    func flush() throws {
        _ = try fs.check(.write, path, generation: generation)
        try file.flush()
    }

    /// Preallocation writes zeros, so it is subject to write faults; a power
    /// loss keeps a prefix of what followed the last sync, zeros included.
    func preallocate(upTo end: UInt64) throws {
        if try fs.check(.write, path, generation: generation) {
            throw StrataError(.ioError, "preallocate \(path): short write (injected)")
        }
        try file.preallocate(upTo: end)
    }

    func sync() throws {
        _ = try fs.check(.sync, path, generation: generation)
        try file.sync()
        let size = file.size
        fs.state.withLock { _ in tracked.syncedSize = max(tracked.syncedSize, size) }
    }

    func close() throws {
        try file.close()
    }

    var size: UInt64 { file.size }
}

final class FaultInjectionReadableFile: ReadableFile, @unchecked Sendable {
    private let fs: FaultInjectionFileSystem
    private let file: any ReadableFile
    private let path: String
    private let generation: Int

    init(fs: FaultInjectionFileSystem, file: any ReadableFile, path: String, generation: Int) {
        self.fs = fs
        self.file = file
        self.path = path
        self.generation = generation
    }

    func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        _ = try fs.check(.read, path, generation: generation)
        return try file.read(at: offset, into: buffer)
    }

    var size: UInt64 { file.size }
    func close() { file.close() }
}

/// A closure `FaultInjectionFileSystem` runs before matching calls.
struct FileSystemHook: Sendable {
    let operations: Set<FileOperation>
    let pathContains: String?
    let body: @Sendable (FileOperation, String) -> Void

    func matches(_ op: FileOperation, _ path: String) -> Bool {
        operations.contains(op) && (pathContains.map { path.contains($0) } ?? true)
    }
}
