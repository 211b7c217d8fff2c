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
        if mu.withHeld({ guarded($0).hasUnloggedData }) { try flush() }

        // Under `mu`: the state to copy, and links to the logs before a
        // flush could delete one.
        var edits: [VersionEdit] = []
        var pinned: [Version] = []
        var liveLog: UInt64?
        var liveSize: UInt64 = 0
        var manifestNumber: UInt64 = 0
        var logs: [UInt64] = []
        var linkError: (any Error)?
        mu.withHeld { held in
            edits = versions.snapshotEdits()
            // Holding the versions keeps their files from being deleted while we link them.
            pinned = edits.map { versions.current($0.columnFamily) }
            let minLog = versions.minLogNumber
            let wal = guarded(held).wal
            liveLog = wal?.number
            liveSize = wal?.size ?? 0
            manifestNumber = versions.newFileNumber()
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
        }
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
