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

    /// Zeros kept ahead of the data once synced appends begin (see `append`).
    static let preallocationChunk: UInt64 = 1 << 20
    /// End of the space preallocated so far (guarded by `lock`).
    private var preallocatedEnd: UInt64 = 0

    /// Appends one record and hands it to the OS; with `sync`, also fsyncs
    /// (covering any earlier unsynced records too).
    ///
    /// Before a synced append's fsync the file is kept zero-filled at least
    /// one `preallocationChunk` past the data: an append into a growing
    /// file makes every fdatasync commit the new size as well (a journal
    /// commit on ext4), an append over blocks the file already has is a
    /// single data flush. The zeros are written once per chunk and synced
    /// with the append that needed them; readers take zero-filled space as
    /// the end of the log (Docs/format-wal.md).
    func append(_ record: UnsafeRawBufferPointer, sync: Bool) throws {
        lock.lock()
        defer { lock.unlock() }
        let before = writer.fileSize
        try writer.addRecord(record)
        try writer.flush()
        statistics?.recordWALBytes(writer.fileSize &- before)  // statistics hook
        if sync {
            let size = writer.fileSize
            if size + Self.preallocationChunk / 2 > preallocatedEnd {
                preallocatedEnd = (size / Self.preallocationChunk + 2) * Self.preallocationChunk
                try writer.preallocate(upTo: preallocatedEnd)
            }
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
