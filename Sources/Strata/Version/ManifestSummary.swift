/// What a database's MANIFEST records, read without opening the database
/// (no lock, no log replay): its column families with their options, log
/// numbers and table files per level, and the counters. For tools such as
/// `strata dump-manifest`; data still only in the write-ahead log is not
/// described.
public struct ManifestSummary: Sendable {
    /// One table file of a level.
    public struct TableFile: Sendable {
        /// The file number (`NNNNNN.sst`).
        public let number: UInt64
        /// Size in bytes.
        public let size: UInt64
        /// Entries (point entries and range tombstones) in the file.
        public let entries: UInt64
        /// Smallest user key and the sequence number of that entry.
        public let smallestKey: [UInt8]
        /// Sequence number of the smallest entry.
        public let smallestSequence: UInt64
        /// Largest user key.
        public let largestKey: [UInt8]
        /// Sequence number of the largest entry.
        public let largestSequence: UInt64
    }

    /// One live column family.
    public struct Family: Sendable {
        /// The family's id.
        public let id: UInt32
        /// The family's name.
        public let name: String
        /// The options recorded at creation; nil for "default", whose
        /// options come from the database's `Options` at each open.
        public let options: ColumnFamilyOptions?
        /// The name of the family's comparator.
        public let comparatorName: String
        /// Logs numbered below this hold nothing the family still needs.
        public let logNumber: UInt64
        /// Table files per level (0 ... 6), in the order reads consult them.
        public let levels: [[TableFile]]
    }

    /// The manifest file CURRENT names.
    public let manifestPath: String
    /// Live families, by id ("default" first).
    public let families: [Family]
    /// The next file number the database would allocate.
    public let nextFileNumber: UInt64
    /// The last sequence number the MANIFEST records (writes still only in
    /// the log may be newer).
    public let lastSequence: UInt64
    /// The largest family id ever used (dropped families included).
    public let maxColumnFamily: UInt32

    /// Reads CURRENT and the MANIFEST of the database at `path`. Throws
    /// `.corruption` naming the file and offset for damaged files, and
    /// `.invalidArgument` for a MANIFEST written by a newer build.
    ///
    /// Families with a custom comparator not listed in `comparators` are
    /// still described, but their deeper levels are listed by file number
    /// instead of key order.
    public static func read(databaseAt path: String, fileSystem: any FileSystem = POSIXFileSystem(),
                            comparators: [Comparator] = []) throws -> ManifestSummary {
        var options = Options()
        options.fileSystem = fileSystem
        let known = comparators
        let versions = VersionSet(directory: path, fileSystem: fileSystem, options: options, resolve: { _, recorded in
            Comparator.builtIn(named: recorded) ?? known.first { $0.name == recorded } ?? .unresolved(named: recorded)
        })
        try versions.recover()
        defer { versions.close() }
        let families = versions.columnFamilies.map { cf in
            Family(id: cf.id, name: cf.name, options: versions.familyOptions(cf.id),
                   comparatorName: versions.comparator(cf.id).name, logNumber: versions.logNumber(cf.id),
                   levels: versions.current(cf.id).files.map { level in level.map(TableFile.init) })
        }
        return ManifestSummary(manifestPath: DBPaths.manifest(path, versions.manifestFileNumber), families: families,
                               nextFileNumber: versions.nextFileNumber, lastSequence: versions.lastSequence,
                               maxColumnFamily: versions.maxColumnFamily)
    }
}

extension ManifestSummary.TableFile {
    init(_ f: FileMetaData) {
        number = f.number
        size = f.size
        entries = f.numEntries
        smallestKey = Array(f.smallest.dropLast(8))
        smallestSequence = f.smallest.withUnsafeBytes { sequenceOf($0) }
        largestKey = Array(f.largest.dropLast(8))
        largestSequence = f.largest.withUnsafeBytes { sequenceOf($0) }
    }
}
