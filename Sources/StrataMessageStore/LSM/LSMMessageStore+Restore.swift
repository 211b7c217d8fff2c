import Foundation
import Strata

/// Crash-safe restore of the LSM store, entirely through the engine's file
/// system seam (`options.engine.fileSystem`), so the fault-injecting file
/// system can crash it at every step. Beside the store directory `P`:
/// - `P.strata-restore`: the staged copy of the backup (files copied and
///   fsynced, the directory fsynced, then opened once as a store to check it);
/// - `P.strata-restore-swap`: the swap marker, created (fsynced, parent
///   fsynced) only once the staged copy is complete — from then on the
///   restore is decided and open finishes it;
/// - `P.strata-replaced`: the old store, moved aside during the swap.
/// The swap renames `P` → `P.strata-replaced`, `P.strata-restore` → `P`,
/// fsyncs the parent, removes the marker (parent fsynced again), then the
/// old store. `LSMMessageStore.open` first completes an interrupted swap
/// (marker present: roll forward) or discards a half-made staged copy
/// (no marker: roll back), so a crash at any step leaves either the old
/// store or the restored one at `P`, never nothing.
extension LSMMessageStore {
    static func restorePaths(_ path: String) -> (staged: String, marker: String, aside: String, parent: String) {
        let parent = (path as NSString).deletingLastPathComponent
        return (path + ".strata-restore", path + ".strata-restore-swap", path + ".strata-replaced", parent.isEmpty ? "." : parent)
    }

    /// Finishes or rolls back a restore a crash interrupted (see the extension's note).
    static func completeInterruptedRestore(_ path: String, _ fs: any FileSystem, _ options: MessageStoreOptions) throws {
        let p = restorePaths(path)
        if fs.fileExists(at: p.marker) {
            if fs.fileExists(at: p.staged) {
                if fs.fileExists(at: path) { try fs.rename(path, to: p.aside) }
                try fs.rename(p.staged, to: path)
                try fs.syncDirectory(at: p.parent)
            }
            try fs.removeFile(at: p.marker)
            try fs.syncDirectory(at: p.parent)
            options.logger.notice("message store: finished a restore interrupted by a crash", metadata: ["path": "\(path)"])
        } else if fs.fileExists(at: p.staged) {
            try removeTree(p.staged, fs)
        }
        if fs.fileExists(at: p.aside) { try removeTree(p.aside, fs) }
    }

    static func removeTree(_ path: String, _ fs: any FileSystem) throws {
        guard fs.isDirectory(at: path) else {
            try fs.removeFile(at: path)
            return
        }
        for name in try fs.listDirectory(at: path) { try removeTree(path + "/" + name, fs) }
        try fs.removeDirectory(at: path)
    }

    /// Copies the flat directory `source` to `target` (which must not exist):
    /// every file but the lock, each fsynced, then the directory.
    static func durableCopy(_ source: String, to target: String, _ fs: any FileSystem) throws {
        try fs.createDirectory(at: target)
        for name in try fs.listDirectory(at: source) where name != "LOCK" {
            let from = source + "/" + name
            guard !fs.isDirectory(at: from) else { continue }
            let input = try fs.openForReading(at: from)
            defer { input.close() }
            let output = try fs.createFile(at: target + "/" + name)
            var offset: UInt64 = 0
            var buffer = [UInt8](repeating: 0, count: 1 << 16)
            while offset < input.size {
                let n = try buffer.withUnsafeMutableBytes { try input.read(at: offset, into: $0) }
                if n == 0 { break }
                try buffer.withUnsafeBytes { try output.append(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
                offset += UInt64(n)
            }
            try output.sync()
            try output.close()
        }
        try fs.syncDirectory(at: target)
    }

    public func restore(from backupPath: String) async throws {
        let fs = options.engine.fileSystem
        let p = Self.restorePaths(path)
        guard fs.isDirectory(at: backupPath) else { throw MessageStoreError(.notFound, "no backup at \(backupPath)") }
        try mappingEngineErrors {
            if fs.fileExists(at: p.staged) { try Self.removeTree(p.staged, fs) }
            do {
                try Self.durableCopy(backupPath, to: p.staged, fs)
                // Opening writes to the copy (never to the backup); it must open as a store.
                let probe = try Self.openEngine(p.staged, options)
                _ = try Self.loadCatalog(probe)
                try probe.db.close()
            } catch {
                try? Self.removeTree(p.staged, fs)
                throw error
            }
        }
        try state.withLock { s in
            guard let o = s else { throw MessageStoreError(.closed, "store at \(path) is closed") }
            s = nil
            do {
                try mappingEngineErrors {
                    try o.db.close()
                    let marker = try fs.createFile(at: p.marker)
                    try marker.append(Array("restore \(backupPath)\n".utf8))
                    try marker.sync()
                    try marker.close()
                    try fs.syncDirectory(at: p.parent)
                    // Decided: from here on, open rolls the swap forward.
                    try Self.completeInterruptedRestore(path, fs, options)
                }
            } catch {
                // Whatever happened, reopen what the protocol leaves at the path.
                s = try? Self.reopenAfterRestore(path, fs, options)
                throw error
            }
            let reopened = try mappingEngineErrors { try Self.openEngine(path, options) }
            let c = try mappingEngineErrors { try Self.loadCatalog(reopened) }
            runtimes.withLock { $0 = [:] }
            catalog.withLock { $0 = c }
            sequence.store(max(sequence.load(ordering: .relaxed),
                               UInt64(reopened.db.property("strata.last-sequence") ?? "0") ?? 0), ordering: .relaxed)
            s = reopened
        }
        options.logger.notice("message store restored", metadata: ["path": "\(path)", "from": "\(backupPath)"])
    }

    private static func reopenAfterRestore(_ path: String, _ fs: any FileSystem, _ options: MessageStoreOptions) throws -> Opened {
        try completeInterruptedRestore(path, fs, options)
        return try openEngine(path, options)
    }
}

/// Test access to the restore protocol's steps (staging and marking a swap
/// without performing it), so tests can build the states a crash leaves.
package enum LSMMessageStoreTestAccess {
    /// Copies `backup` to the staged path of `store` and writes the swap marker.
    package static func stage(backup: String, store: String, _ fs: any FileSystem) throws {
        let p = LSMMessageStore.restorePaths(store)
        try LSMMessageStore.durableCopy(backup, to: p.staged, fs)
        let marker = try fs.createFile(at: p.marker)
        try marker.sync()
        try marker.close()
        try fs.syncDirectory(at: p.parent)
    }
}
