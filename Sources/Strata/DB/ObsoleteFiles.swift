/// Deleting files nothing refers to, in two halves: which files are
/// obsolete is decided with `mu` held (the live set, the log and MANIFEST
/// numbers and the directory listing must agree), and the unlinks happen
/// after `mu` is released, so writers never queue behind file-system
/// deletes after a flush or compaction.
///
/// Why unlinking late is safe: every rule below is monotone. A table that
/// no live version lists and no flush or compaction is writing
/// (`CompactionControl.pendingOutputs`, protected before the file is
/// created) can never become live again (file numbers are never reused); a
/// log below every family's log number and a MANIFEST older than the
/// current one stay obsolete; a temp file found in the listing belongs to a
/// MANIFEST switch that has finished (they run under `mu`). Two threads
/// may pick the same file; the second unlink's "not found" is ignored.
struct ObsoleteFiles {
    /// Directory entries to unlink, by name.
    var names: [String] = []
    /// Table numbers among them, to drop from the table and block caches.
    var tables: [UInt64] = []

    var isEmpty: Bool { names.isEmpty }
}

extension DBCore {
    /// Which files in the database directory are obsolete: logs every family
    /// has flushed past, tables no live version lists (see `LiveVersions`:
    /// old versions held by iterators and super versions keep their files)
    /// and no flush or compaction is writing, temp files, old manifests.
    func findObsoleteFiles(_ held: borrowing MonitorHeld) -> ObsoleteFiles {
        var found = ObsoleteFiles()
        guard let names = try? fs.listDirectory(at: path) else { return found }
        let live = versions.liveFileNumbers()
        let minLog = min(versions.minLogNumber, guarded(held).logNumber)
        let manifest = versions.manifestFileNumber
        for name in names {
            guard let kind = DBPaths.parse(name) else { continue }
            switch kind {
            case .log(let n) where n < minLog:
                found.names.append(name)
            case .table(let n) where !live.contains(n) && !compactions.isPending(n):
                found.names.append(name)
                found.tables.append(n)
            case .temp:
                found.names.append(name)
            case .manifest(let n) where n != manifest:
                found.names.append(name)
            default:
                break
            }
        }
        return found
    }

    /// Unlinks `files` and drops their tables from the caches. Called with
    /// `mu` released (see the type's note for why that is safe).
    func purge(_ files: ObsoleteFiles) {
        for n in files.tables {
            tableCache.evict(n)
            blockCache?.erase(fileNumber: n)
        }
        for name in files.names {
            do {
                try fs.removeFile(at: DBPaths.join(path, name))
            } catch let e as StrataError where e.kind == .notFound {
                // Another thread's sweep got there first.
            } catch {
                logger.warning("strata: could not delete obsolete file \(name): \(error)")
            }
        }
    }

    /// Finds the obsolete files under `mu` and deletes them with `mu`
    /// released; callers must not rely on guarded state staying the same
    /// across the call.
    func deleteObsoleteFiles(_ held: borrowing MonitorHeld) {
        let files = findObsoleteFiles(held)
        if files.isEmpty { return }
        held.unlocked { purge(files) }
    }
}
