/// The live write-ahead log file: the commit leader appends to it and the
/// background syncer fsyncs it, so access goes through one lock.
///
/// Tracks whether bytes were appended since the last sync, so the syncer
/// and a log switch sync only when there is something to make durable.
final class WALHandle: @unchecked Sendable {
    // `writer`, `dirty` are guarded by `lock`.
    private let lock = Monitor()
    private let writer: LogWriter
    private var dirty = false
    let number: UInt64
    let path: String
    /// Counts bytes appended (statistics hook).
    private let statistics: Statistics?

    init(writer: LogWriter, number: UInt64, path: String, statistics: Statistics? = nil) {
        self.writer = writer
        self.number = number
        self.path = path
        self.statistics = statistics
    }

    /// Appends one record and hands it to the OS; with `sync`, also fsyncs
    /// (covering any earlier unsynced records too).
    func append(_ record: UnsafeRawBufferPointer, sync: Bool) throws {
        lock.lock()
        defer { lock.unlock() }
        let before = writer.fileSize
        try writer.addRecord(record)
        try writer.flush()
        statistics?.recordWALBytes(writer.fileSize &- before)  // statistics hook
        if sync {
            try writer.sync()
            dirty = false
        } else {
            dirty = true
        }
    }

    /// Fsyncs if anything was appended since the last sync.
    func syncIfDirty() throws {
        lock.lock()
        defer { lock.unlock() }
        if dirty {
            try writer.sync()
            dirty = false
        }
    }

    /// Syncs what is unsynced and closes the file.
    func close() throws {
        lock.lock()
        defer { lock.unlock() }
        if dirty {
            try writer.sync()
            dirty = false
        }
        try writer.close()
    }

    var size: UInt64 { lock.withLock { writer.fileSize } }
}
