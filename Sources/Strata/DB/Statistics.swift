import Synchronization

/// Counters the engine keeps while it runs. All counters are atomics, so
/// reading them never blocks a writer.
public final class Statistics: Sendable {
    private let _userBytesWritten = Atomic<UInt64>(0)
    private let _writeBatches = Atomic<UInt64>(0)
    private let _writeGroups = Atomic<UInt64>(0)
    private let _syncedGroups = Atomic<UInt64>(0)
    private let _gets = Atomic<UInt64>(0)
    private let _flushes = Atomic<UInt64>(0)
    private let _flushBytes = Atomic<UInt64>(0)
    private let _stallNanoseconds = Atomic<UInt64>(0)

    init() {}

    /// Bytes of write batches committed by users.
    public var userBytesWritten: UInt64 { _userBytesWritten.load(ordering: .relaxed) }
    /// Write batches committed.
    public var writeBatches: UInt64 { _writeBatches.load(ordering: .relaxed) }
    /// Commit groups (one log record each); batches / groups is the group-commit factor.
    public var writeGroups: UInt64 { _writeGroups.load(ordering: .relaxed) }
    /// Commit groups that ended in an fsync.
    public var syncedGroups: UInt64 { _syncedGroups.load(ordering: .relaxed) }
    /// Point lookups served.
    public var gets: UInt64 { _gets.load(ordering: .relaxed) }
    /// Memtable flushes completed.
    public var flushes: UInt64 { _flushes.load(ordering: .relaxed) }
    /// Bytes of table files written by flushes.
    public var flushBytesWritten: UInt64 { _flushBytes.load(ordering: .relaxed) }
    /// Time writers spent waiting for a flush to make room.
    public var stallDuration: Duration { .nanoseconds(Int64(_stallNanoseconds.load(ordering: .relaxed))) }

    func recordWrite(batches: Int, bytes: Int, synced: Bool) {
        _writeBatches.add(UInt64(batches), ordering: .relaxed)
        _writeGroups.add(1, ordering: .relaxed)
        _userBytesWritten.add(UInt64(bytes), ordering: .relaxed)
        if synced { _syncedGroups.add(1, ordering: .relaxed) }
    }

    @inline(__always)
    func recordGet() { _gets.add(1, ordering: .relaxed) }

    func recordFlush(bytes: UInt64, duration: Duration) {
        _flushes.add(1, ordering: .relaxed)
        _flushBytes.add(bytes, ordering: .relaxed)
    }

    func recordStall(_ d: Duration) {
        let c = d.components
        let ns = UInt64(max(0, c.seconds)) * 1_000_000_000 + UInt64(max(0, c.attoseconds / 1_000_000_000))
        _stallNanoseconds.add(ns, ordering: .relaxed)
    }
}
