/// Checkpoints: an openable copy of the database as of the call.
///
/// The copy shares table files with the database by hard links (copied when
/// the target is on another file system), gets closed logs by hard link too
/// (they never change again), a copy of the live log's acknowledged prefix,
/// and a fresh MANIFEST describing exactly the linked files. It is built in
/// `<target>.strata-tmp` and renamed into place only when complete and
/// synced, so a crash never leaves a partial checkpoint that opens.
extension DBCore {
    func createCheckpoint(at target: String) throws {
        try checkOpen()
        var target = target
        while target.hasSuffix("/") && target.count > 1 { target.removeLast() }
        if fs.fileExists(at: target) {
            throw StrataError(.invalidArgument, "checkpoint target \(target) already exists")
        }
        let parent = FileCopy.parentDirectory(of: target)
        try fs.createDirectory(at: parent)
        let temp = target + ".strata-tmp"
        try FileCopy.removeTree(temp, fs: fs)
        try fs.createDirectory(at: temp)
        do {
            try buildCheckpoint(in: temp)
            try fs.syncDirectory(at: temp)
            try fs.rename(temp, to: target)
            try fs.syncDirectory(at: parent)
        } catch {
            try? FileCopy.removeTree(temp, fs: fs)
            throw error
        }
    }

    private func buildCheckpoint(in temp: String) throws {
        // Writes that never reached the log exist only in memory: flush them
        // so that the checkpoint holds everything acknowledged so far.
        if mu.withLock({ unloggedWrites || immHasUnloggedWrites }) { try flush() }

        mu.lock()
        var edits = versions.snapshotEdits()
        // Holding the versions keeps their files from being deleted while we link them.
        let pinned = edits.map { versions.current($0.columnFamily) }
        let minLog = versions.minLogNumber
        let liveLog = wal?.number
        let liveSize = wal?.size ?? 0
        let manifestNumber = versions.newFileNumber()
        var logs: [UInt64] = []
        var linkError: (any Error)?
        do {
            for name in try fs.listDirectory(at: path) {
                if case .log(let n) = DBPaths.parse(name), n >= minLog { logs.append(n) }
            }
            // Links made under the lock, before a flush could delete a log.
            for n in logs {
                let to = n == liveLog ? DBPaths.join(temp, "live-log.strata-tmp") : DBPaths.log(temp, n)
                try FileCopy.linkOrCopy(DBPaths.log(path, n), to: to, fs: fs)
            }
        } catch {
            linkError = error
        }
        mu.unlock()
        if let linkError { throw linkError }

        for edit in edits {
            for added in edit.newFiles {
                try FileCopy.linkOrCopy(DBPaths.table(path, added.file.number), to: DBPaths.table(temp, added.file.number), fs: fs)
            }
        }
        withExtendedLifetime(pinned) {}

        if let live = liveLog, logs.contains(live) {
            // Only the prefix acknowledged before the call; later appends to
            // the shared inode must not leak into the checkpoint.
            let linked = DBPaths.join(temp, "live-log.strata-tmp")
            try FileCopy.copy(linked, to: DBPaths.log(temp, live), limit: liveSize, fs: fs)
            try fs.removeFile(at: linked)
        }

        if let next = edits.first?.nextFileNumber, next <= manifestNumber {
            edits[0].nextFileNumber = manifestNumber + 1
        }
        let manifestPath = DBPaths.manifest(temp, manifestNumber)
        let writer = LogWriter(file: try fs.createFile(at: manifestPath))
        for e in edits { try writer.addRecord(e.encode()) }
        try writer.sync()
        try writer.close()
        let current = try fs.createFile(at: DBPaths.current(temp))
        try current.append(Array((DBPaths.manifestName(manifestNumber) + "\n").utf8))
        try current.sync()
        try current.close()
    }
}

/// File copying helpers shared by checkpoints and backups.
enum FileCopy {
    static func parentDirectory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    /// Hard-links `from` to `to`, copying (and syncing) when linking fails
    /// (another file system).
    static func linkOrCopy(_ from: String, to: String, fs: any FileSystem) throws {
        do {
            try fs.hardLink(from, to: to)
        } catch {
            try copy(from, to: to, fs: fs)
        }
    }

    /// Copies `from` to `to` (at most `limit` bytes), fsyncs the copy, and
    /// returns the CRC32C of what was copied.
    @discardableResult
    static func copy(_ from: String, to: String, limit: UInt64 = .max, fs: any FileSystem,
                     destination: (any FileSystem)? = nil, progress: ((Int) -> Void)? = nil) throws -> UInt32 {
        let dfs = destination ?? fs
        let src = try fs.openForReading(at: from)
        defer { src.close() }
        let dst = try dfs.createFile(at: to)
        var crc: UInt32 = 0
        do {
            let total = min(src.size, limit)
            var offset: UInt64 = 0
            var buffer = [UInt8](repeating: 0, count: 1 << 20)
            while offset < total {
                let want = Int(min(UInt64(buffer.count), total - offset))
                let n = try buffer.withUnsafeMutableBytes { try src.read(at: offset, into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<want])) }
                if n == 0 { throw StrataError(.ioError, "\(from): file ended at \(offset) while copying \(total) bytes") }
                try buffer.withUnsafeBytes { p in
                    let chunk = UnsafeRawBufferPointer(rebasing: p[0..<n])
                    crc = CRC32C.extend(crc, chunk)
                    try dst.append(chunk)
                }
                offset += UInt64(n)
                progress?(n)
            }
            try dst.sync()
            try dst.close()
        } catch {
            try? dst.close()
            try? dfs.removeFile(at: to)
            throw error
        }
        return crc
    }

    /// CRC32C of a whole file.
    static func checksum(_ path: String, fs: any FileSystem) throws -> (crc: UInt32, size: UInt64) {
        let src = try fs.openForReading(at: path)
        defer { src.close() }
        var crc: UInt32 = 0
        var offset: UInt64 = 0
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while offset < src.size {
            let n = try buffer.withUnsafeMutableBytes { try src.read(at: offset, into: $0) }
            if n == 0 { break }
            buffer.withUnsafeBytes { crc = CRC32C.extend(crc, UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            offset += UInt64(n)
        }
        return (crc, offset)
    }

    /// Removes a directory and everything below it; no error if missing.
    static func removeTree(_ path: String, fs: any FileSystem) throws {
        guard fs.fileExists(at: path) else { return }
        guard fs.isDirectory(at: path) else {
            try fs.removeFile(at: path)
            return
        }
        for name in try fs.listDirectory(at: path) {
            try removeTree(DBPaths.join(path, name), fs: fs)
        }
        try fs.removeDirectory(at: path)
    }
}
