import Synchronization

/// Open table readers by file number, so each table's footer, index and
/// filter are read once and shared by every reader of the file.
///
/// Bounded by `capacity` readers (the database passes
/// `Options.tableCacheCapacity`, `Options.maxOpenFiles` less a reserve for
/// logs, the MANIFEST and the lock file): when full, the least recently used reader is
/// dropped. Dropping only releases the cache's reference; an iterator or a
/// lookup still holding the reader keeps it (and its file descriptor) alive,
/// and the file is closed when the last holder lets go (`ReadableFile`
/// closes in its deinit).
final class TableCache: TableCacheCounters {
    private let directory: String
    private let fileSystem: any FileSystem
    private let blockCache: BlockCache?
    /// Whether tables are opened through memory mappings.
    private let mmapReads: Bool
    private let statistics: Statistics?
    /// Readers held at most.
    let capacity: Int
    private let state: Locked<TableCacheState>

    /// `capacity` nil leaves the cache unbounded; otherwise at least 1.
    init(directory: String, fileSystem: any FileSystem, blockCache: BlockCache?,
         capacity: Int? = nil, mmapReads: Bool = false, statistics: Statistics? = nil) {
        self.directory = directory
        self.mmapReads = mmapReads
        self.fileSystem = fileSystem
        self.blockCache = blockCache
        self.statistics = statistics
        precondition(capacity.map { $0 >= 1 } ?? true, "TableCache capacity must be at least 1 (Options.tableCacheCapacity)")
        self.capacity = capacity ?? Int.max / 2
        self.state = Locked(TableCacheState(readers: LRUTable(capacity: self.capacity)))
    }

    /// The reader of `file`, opening the file on a miss. `comparator` is
    /// the order of the file's family; a cached reader opened with another
    /// one (impossible while file numbers are unique) is refused.
    func reader(for file: FileMetaData, comparator: Comparator) throws -> TableReader {
        if let r = state.withLock({ $0.lookup(file.number) }) {
            guard r.comparator === comparator || r.comparator == comparator else {
                throw StrataError(.corruption, "\(r.path): opened with comparator \"\(r.comparator.name)\", now read with \"\(comparator.name)\"")
            }
            return r
        }
        let path = DBPaths.table(directory, file.number)
        let handle = try mmapReads ? fileSystem.openForMappedReading(at: path) : fileSystem.openForReading(at: path)
        let reader = try TableReader.open(file: handle, path: path, fileNumber: file.number, cache: blockCache,
                                          statistics: statistics, comparator: comparator)
        // Dropped readers are released after the lock, so closing their
        // files never happens while other readers wait.
        var dropped: [TableReader] = []
        let r = state.withLock { s -> TableReader in
            if let existing = s.readers.peek(file.number, 0) { return existing }
            s.readers.insert(file.number, 0, reader, charge: 1, evicted: { dropped.append($0) })
            return reader
        }
        dropped.removeAll()
        return r
    }

    /// Forgets a file's reader and its cached blocks (the file is being
    /// deleted; file numbers are never reused, so its blocks would only
    /// take room until they aged out).
    func evict(_ number: UInt64) {
        // The removed reader is released after the lock is dropped.
        _ = state.withLock { $0.readers.remove(number, 0) }
        blockCache?.erase(fileNumber: number)
    }

    /// Readers currently held.
    var openCount: Int { state.withLock { $0.readers.count } }
    /// Lookups answered by a held reader.
    var hits: UInt64 { state.withLock { $0.hits } }
    /// Lookups that had to open the file.
    var misses: UInt64 { state.withLock { $0.misses } }
}

/// The readers and the hit/miss counts, guarded by `TableCache.state`.
struct TableCacheState {
    var readers: LRUTable<TableReader>
    var hits: UInt64 = 0
    var misses: UInt64 = 0

    @inline(__always)
    mutating func lookup(_ number: UInt64) -> TableReader? {
        if let r = readers.get(number, 0) {
            hits &+= 1
            return r
        }
        misses &+= 1
        return nil
    }
}
