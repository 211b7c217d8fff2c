/// Replays version edits over all column families: creates and drops
/// families, tracks each family's log number, and feeds file changes to a
/// `VersionBuilder` per family touched. Used by recovery (the whole
/// MANIFEST) and by `logAndApply` (one edit, checked before it is written).
struct VersionSetBuilder {
    private(set) var names: [UInt32: String]
    private(set) var logNumbers: [UInt32: UInt64]
    private(set) var maxColumnFamily: UInt32
    /// Options recorded for families created with them.
    private(set) var familyOptions: [UInt32: ColumnFamilyOptions]
    private var bases: [UInt32: Version]
    private var builders: [UInt32: VersionBuilder] = [:]

    init(names: [UInt32: String], logNumbers: [UInt32: UInt64], versions: [UInt32: Version], maxColumnFamily: UInt32,
         familyOptions: [UInt32: ColumnFamilyOptions] = [:]) {
        self.names = names
        self.familyOptions = familyOptions
        self.logNumbers = logNumbers
        self.bases = versions
        self.maxColumnFamily = maxColumnFamily
    }

    /// The state of a new database: only the default family, empty.
    static func initial() -> VersionSetBuilder {
        VersionSetBuilder(names: [0: "default"], logNumbers: [0: 0], versions: [0: .empty], maxColumnFamily: 0)
    }

    /// Errors are `.corruption` without a file name (see `VersionBuilder`).
    mutating func apply(_ edit: VersionEdit) throws {
        let cf = edit.columnFamily
        if let name = edit.addColumnFamily {
            guard names[cf] == nil else {
                throw StrataError(.corruption, "adds column family \(cf) (\"\(name)\"), which already exists")
            }
            guard !names.values.contains(name) else {
                throw StrataError(.corruption, "adds a second column family named \"\(name)\"")
            }
            guard !edit.dropColumnFamily else {
                throw StrataError(.corruption, "both adds and drops column family \(cf)")
            }
            guard cf != 0 else { throw StrataError(.corruption, "adds column family 0 (\"\(name)\"), which is the default family") }
            names[cf] = name
            familyOptions[cf] = edit.columnFamilyOptions
            bases[cf] = .empty
            logNumbers[cf] = 0
            maxColumnFamily = max(maxColumnFamily, cf)
        }
        guard names[cf] != nil else {
            throw StrataError(.corruption, "refers to column family \(cf), which does not exist")
        }
        if edit.dropColumnFamily {
            guard cf != 0 else { throw StrataError(.corruption, "drops the default column family") }
            guard edit.newFiles.isEmpty && edit.deletedFiles.isEmpty else {
                throw StrataError(.corruption, "drops column family \(cf) and changes its files")
            }
            names[cf] = nil
            familyOptions[cf] = nil
            bases[cf] = nil
            builders[cf] = nil
            logNumbers[cf] = nil
        } else {
            if !edit.newFiles.isEmpty || !edit.deletedFiles.isEmpty {
                var builder = builders[cf] ?? VersionBuilder(base: bases[cf] ?? .empty)
                try builder.apply(edit)
                builders[cf] = builder
            }
            if let log = edit.logNumber { logNumbers[cf] = log }
        }
        if let m = edit.maxColumnFamily { maxColumnFamily = max(maxColumnFamily, m) }
    }

    /// The version of every family: rebuilt where edits touched it.
    func finish() throws -> [UInt32: Version] {
        var result = bases
        for (cf, builder) in builders { result[cf] = try builder.build() }
        return result
    }
}
