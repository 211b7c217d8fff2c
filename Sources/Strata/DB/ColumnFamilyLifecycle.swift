/// Creating and dropping column families.
///
/// Both run under `mu`, so they are ordered with memtable switches, flush
/// installs and compaction installs, and each is in the MANIFEST (synced)
/// before it returns. A created family starts with the live log as its log
/// number: no older log can hold its records. A dropped family's records
/// in the logs are skipped by recovery, since family ids are never reused.
extension DBCore {
    func createColumnFamily(_ name: String, options familyOptions: ColumnFamilyOptions) throws -> ColumnFamily {
        try checkOpen()
        guard !name.isEmpty else { throw StrataError(.invalidArgument, "a column family name must not be empty") }
        guard name.utf8.count <= 1024 else {
            throw StrataError(.invalidArgument, "column family name of \(name.utf8.count) bytes is longer than 1024")
        }
        try familyOptions.validate()
        if let listed = options.columnFamilyComparators[name], listed != familyOptions.comparator {
            throw StrataError(.invalidArgument, "column family \"\(name)\" is created with comparator \"\(familyOptions.comparator.name)\" but Options.columnFamilyComparators lists \"\(listed.name)\" for it")
        }
        return try mu.withHeld { held in
        if guarded(held).closing { throw StrataError(.closed, "database at \(path) is closed") }
        if guarded(held).bgError != nil { throw readOnlyError(held) }
        if familyTable.withLock({ t in t.values.contains { $0.name == name } }) {
            throw StrataError(.invalidArgument, "column family \"\(name)\" already exists")
        }
        let previous = versions.maxColumnFamily
        guard previous < UInt32.max else { throw StrataError(.invalidArgument, "no column family ids left") }
        let id = previous + 1
        var edit = VersionEdit()
        edit.columnFamily = id
        edit.addColumnFamily = name
        edit.columnFamilyOptions = familyOptions
        edit.comparatorName = familyOptions.comparator.name
        edit.maxColumnFamily = id
        edit.logNumber = guarded(held).logNumber
        try logAndApply(edit, newFamilyComparator: familyOptions.comparator,
                        during: "recording a new column family in the MANIFEST", held)
        let state = ColumnFamilyState(name: name, id: id, options: familyOptions, databaseOptions: options, owner: identity)
        let handle = addFamily(state, held)
        publishSuperVersion(state, held)
        logger.info("strata: created column family \(name) (id \(id))")
        return handle
        }
    }

    func dropColumnFamily(_ handle: ColumnFamily) throws {
        try checkOpen()
        let family = try resolve(handle)
        guard family.id != 0 else { throw StrataError(.invalidArgument, "the default column family cannot be dropped") }
        try mu.withHeld { held in
        if guarded(held).closing { throw StrataError(.closed, "database at \(path) is closed") }
        if guarded(held).bgError != nil { throw readOnlyError(held) }
        guard !family.dropped.load(ordering: .acquiring) else {
            throw StrataError(.invalidArgument, "column family \"\(family.name)\" (id \(family.id)) has been dropped")
        }
        var edit = VersionEdit()
        edit.columnFamily = family.id
        edit.dropColumnFamily = true
        try logAndApply(edit, during: "recording a dropped column family in the MANIFEST", held)
        removeFamily(family, held)
        refreshCompactionPressure(held)
        // Files no reader holds go now; the rest when their readers let go.
        deleteObsoleteFiles(held)
        wakeCompaction(held)
        held.broadcast()  // writers waiting for this family's flush or level 0
        logger.info("strata: dropped column family \(family.name) (id \(family.id))")
        }
    }

    /// `versions.logAndApply` for an edit made outside flush and compaction:
    /// a failure may or may not have left the edit durable, so, as there,
    /// it stops writes.
    private func logAndApply(_ edit: VersionEdit, newFamilyComparator: Comparator? = nil, during what: String,
                             _ held: borrowing MonitorHeld) throws {
        versions.lastSequence = lastSequence.load(ordering: .acquiring)
        do {
            try versions.logAndApply(edit, newFamilyComparator: newFamilyComparator)
        } catch let e as StrataError where e.kind == .invalidArgument {
            throw e
        } catch {
            setBackgroundError(asStrataError(error), during: what, held)
            throw readOnlyError(held)
        }
    }
}
