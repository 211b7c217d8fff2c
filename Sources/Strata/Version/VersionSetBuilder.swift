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
    /// Each live family's comparator.
    private(set) var comparators: [UInt32: Comparator]
    /// Turns a recorded comparator name into the comparator to use for a
    /// family (its name and the recorded name); throws `.invalidArgument`
    /// when the caller has no comparator of that name for it.
    private let resolve: ComparatorResolver
    private var bases: [UInt32: Version]
    private var builders: [UInt32: VersionBuilder] = [:]
    /// Families whose comparator could not be resolved, with the error:
    /// thrown by `finish` if the family is still live then (a family
    /// dropped later in the MANIFEST needs no comparator).
    private var unresolved: [UInt32: StrataError] = [:]

    init(names: [UInt32: String], logNumbers: [UInt32: UInt64], versions: [UInt32: Version], maxColumnFamily: UInt32,
         familyOptions: [UInt32: ColumnFamilyOptions] = [:], comparators: [UInt32: Comparator],
         resolve: @escaping ComparatorResolver) {
        self.names = names
        self.familyOptions = familyOptions
        self.comparators = comparators
        self.resolve = resolve
        self.logNumbers = logNumbers
        self.bases = versions
        self.maxColumnFamily = maxColumnFamily
    }

    /// The state of a new database: only the default family, empty, with
    /// `defaultComparator`.
    static func initial(defaultComparator: Comparator, resolve: @escaping ComparatorResolver) -> VersionSetBuilder {
        VersionSetBuilder(names: [0: "default"], logNumbers: [0: 0], versions: [0: .empty(defaultComparator)],
                          maxColumnFamily: 0, comparators: [0: defaultComparator], resolve: resolve)
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
            // An add written before comparators existed means byte-wise.
            let comparator = resolveOrDefer(cf, name, edit.comparatorName ?? Comparator.bytewise.name)
            names[cf] = name
            familyOptions[cf] = edit.columnFamilyOptions
            comparators[cf] = comparator
            bases[cf] = .empty(comparator)
            logNumbers[cf] = 0
            maxColumnFamily = max(maxColumnFamily, cf)
        }
        guard let familyName = names[cf] else {
            throw StrataError(.corruption, "refers to column family \(cf), which does not exist")
        }
        if edit.addColumnFamily == nil, let recorded = edit.comparatorName {
            if cf == 0 {
                // The default family's comparator comes with its snapshot edit.
                let comparator = resolveOrDefer(0, familyName, recorded)
                if comparator != comparators[0] {
                    guard bases[0]?.totalFiles ?? 0 == 0 && builders[0] == nil else {
                        throw StrataError(.corruption, "changes the comparator of family \"default\" that already has files")
                    }
                    bases[0] = .empty(comparator)
                }
                comparators[0] = comparator
            } else if recorded != comparators[cf]?.name {
                throw StrataError(.corruption, "names comparator \"\(recorded)\" for column family \"\(familyName)\", created with \"\(comparators[cf]?.name ?? "?")\"")
            }
        }
        if edit.dropColumnFamily {
            guard cf != 0 else { throw StrataError(.corruption, "drops the default column family") }
            guard edit.newFiles.isEmpty && edit.deletedFiles.isEmpty else {
                throw StrataError(.corruption, "drops column family \(cf) and changes its files")
            }
            names[cf] = nil
            familyOptions[cf] = nil
            comparators[cf] = nil
            unresolved[cf] = nil
            bases[cf] = nil
            builders[cf] = nil
            logNumbers[cf] = nil
        } else {
            if !edit.newFiles.isEmpty || !edit.deletedFiles.isEmpty {
                let comparator = comparators[cf] ?? .bytewise
                var builder = builders[cf] ?? VersionBuilder(base: bases[cf] ?? .empty(comparator), comparator: comparator)
                try builder.apply(edit)
                builders[cf] = builder
            }
            if let log = edit.logNumber { logNumbers[cf] = log }
        }
        if let m = edit.maxColumnFamily { maxColumnFamily = max(maxColumnFamily, m) }
    }

    /// The comparator for family `cf`, or an unresolved stand-in with the
    /// error kept for `finish`.
    private mutating func resolveOrDefer(_ cf: UInt32, _ family: String, _ recorded: String) -> Comparator {
        do {
            let c = try resolve(family, recorded)
            unresolved[cf] = nil
            return c
        } catch {
            unresolved[cf] = (error as? StrataError) ?? StrataError(.invalidArgument, "\(error)")
            return .unresolved(named: recorded)
        }
    }

    /// The version of every family: rebuilt where edits touched it. Throws
    /// the resolver's error (`.invalidArgument`) for a live family whose
    /// comparator was not resolved.
    func finish() throws -> [UInt32: Version] {
        if let (_, e) = unresolved.min(by: { $0.key < $1.key }) { throw e }
        var result = bases
        for (cf, builder) in builders { result[cf] = try builder.build() }
        return result
    }
}

/// Maps a family's name and the comparator name its MANIFEST records to
/// the comparator to open it with (see `VersionSetBuilder`).
typealias ComparatorResolver = @Sendable (_ familyName: String, _ recordedName: String) throws -> Comparator
