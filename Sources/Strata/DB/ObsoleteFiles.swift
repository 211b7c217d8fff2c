/// Deleting files nothing refers to, in three steps: the directory is
/// listed with `mu` released, which of the listed files are obsolete is
/// decided with `mu` held (the live tables, the tables being written, the
/// smallest live log and the current MANIFEST are read together), and the
/// unlinks happen with `mu` released again, so writers never queue behind
/// file-system calls after a flush or compaction.
///
/// Why listing early is safe: the listing is only the candidates, and every
/// rule below keeps whatever could still be needed at the moment the
/// decision is taken under `mu`, whenever the file appeared:
/// - a file created after the listing is simply not considered (the next
///   sweep sees it);
/// - a table being written is in `CompactionControl.pendingOutputs` from
///   before its file is created until it is installed (listed by a live
///   version) or abandoned, and both happen under `mu`; so a listed table
///   that is neither live nor pending under `mu` is an orphan or obsolete,
///   and table numbers are never reused (recovery's replay writes its
///   tables before the first sweep and installs them first);
/// - a log below every family's log number and the live log's stays
///   obsolete: the live log only moves to a newly created, higher number,
///   and family log numbers only grow;
/// - MANIFESTs and CURRENT's temp files are written only by
///   `versions.logAndApply`, which runs with `mu` held (never inside
///   `held.unlocked`) or, at open, before any other thread exists; so
///   under `mu` no MANIFEST switch is half done. A listed temp file is then
///   a leftover, or already renamed over CURRENT (the unlink finds nothing);
///   its number is never used for a temp again. A MANIFEST is deleted only
///   when numbered below the one `versions.manifestFileNumber` names (which
///   changes only once CURRENT durably names the new one): a MANIFEST at or
///   above it is the current one, or the orphan of a failed switch that
///   CURRENT may name already (the rename succeeded, the directory sync
///   failed), which a reopen needs; older ones no reopen can read.
///
/// Why unlinking late is safe: every rule is monotone, so a file obsolete
/// under `mu` stays obsolete after it is released. Two threads may pick the
/// same file; the second unlink's "not found" is ignored.
struct ObsoleteFiles {
    /// What a sweep must keep, read under `mu` after the listing.
    struct Keep {
        /// Tables a live version lists (current or held by a reader).
        var liveTables: Set<UInt64> = []
        /// Tables a flush or compaction is writing.
        var pendingTables: Set<UInt64> = []
        /// Logs numbered below this are obsolete: every family's data in
        /// them is in tables, and none is the live log.
        var minLog: UInt64 = 0
        /// The MANIFEST CURRENT names.
        var manifest: UInt64 = 0
    }

    /// Directory entries to unlink, by name.
    var names: [String] = []
    /// Table numbers among them, to drop from the table and block caches.
    var tables: [UInt64] = []

    var isEmpty: Bool { names.isEmpty }

    /// The obsolete entries of `listing` (a directory's names), given what
    /// must be kept. Entries that are not the engine's, CURRENT and LOCK are
    /// never obsolete.
    init(listing: [String], keeping keep: Keep) {
        for name in listing {
            guard let kind = DBPaths.parse(name) else { continue }
            switch kind {
            case .log(let n) where n < keep.minLog:
                names.append(name)
            case .table(let n) where !keep.liveTables.contains(n) && !keep.pendingTables.contains(n):
                names.append(name)
                tables.append(n)
            case .temp:
                names.append(name)
            case .manifest(let n) where n < keep.manifest:
                names.append(name)
            default:
                break
            }
        }
    }
}

extension DBCore {
    /// What a sweep must keep now: tables no live version lists (see
    /// `LiveVersions`: old versions held by iterators and super versions
    /// keep their files) and no flush or compaction is writing, logs every
    /// family has flushed past, the current MANIFEST.
    func filesToKeep(_ held: borrowing MonitorHeld) -> ObsoleteFiles.Keep {
        ObsoleteFiles.Keep(liveTables: versions.liveFileNumbers(),
                           pendingTables: compactions.pendingOutputs.withLock { $0 },
                           minLog: min(versions.minLogNumber, guarded(held).logNumber),
                           manifest: versions.manifestFileNumber)
    }

    /// Which of `listing` (the database directory, listed before `mu` was
    /// taken: see `ObsoleteFiles` for why that is safe) are obsolete.
    func findObsoleteFiles(in listing: [String], _ held: borrowing MonitorHeld) -> ObsoleteFiles {
        ObsoleteFiles(listing: listing, keeping: filesToKeep(held))
    }

    /// Unlinks `files` and drops their tables from the caches. Called with
    /// `mu` released (see `ObsoleteFiles` for why that is safe).
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

    /// Lists the directory with `mu` released, finds the obsolete files
    /// under `mu` and deletes them with `mu` released; callers must not
    /// rely on guarded state staying the same across the call. A read-only
    /// handle never sweeps: the files belong to the writer (its deletes
    /// would be refused anyway, each with a warning).
    func deleteObsoleteFiles(_ held: borrowing MonitorHeld) {
        if options.readOnly { return }
        guard let listing = held.unlocked({ try? fs.listDirectory(at: path) }) else { return }
        let files = findObsoleteFiles(in: listing, held)
        if files.isEmpty { return }
        held.unlocked { purge(files) }
    }
}
