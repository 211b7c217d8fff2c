import Synchronization

/// Open table readers by file number, so each table's footer, index and
/// filter are read once and shared by every reader of the file.
final class TableCache: Sendable {
    private let directory: String
    private let fileSystem: any FileSystem
    private let blockCache: BlockCache?
    private let readers = Mutex<[UInt64: TableReader]>([:])

    init(directory: String, fileSystem: any FileSystem, blockCache: BlockCache?) {
        self.directory = directory
        self.fileSystem = fileSystem
        self.blockCache = blockCache
    }

    func reader(for file: FileMetaData) throws -> TableReader {
        if let r = readers.withLock({ $0[file.number] }) { return r }
        let path = DBPaths.table(directory, file.number)
        let handle = try fileSystem.openForReading(at: path)
        let reader = try TableReader.open(file: handle, path: path, fileNumber: file.number, cache: blockCache)
        return readers.withLock { m in
            if let existing = m[file.number] { return existing }
            m[file.number] = reader
            return reader
        }
    }

    /// Forgets a file's reader (the file is being deleted).
    func evict(_ number: UInt64) {
        _ = readers.withLock { $0.removeValue(forKey: number) }
    }

    var openCount: Int { readers.withLock { $0.count } }
}
