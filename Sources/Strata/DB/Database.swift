/// A Strata database: an embedded, persistent, ordered key-value store.
///
/// All methods are thread-safe. Synchronous methods block the calling
/// thread (on disk I/O for durable writes); `write(_:options:) async`
/// suspends instead, for use from Swift concurrency.
///
/// ```swift
/// let db = try Database.open(at: "/var/lib/app/db")
/// try db.put(Array("k".utf8), Array("v".utf8))
/// let v = try db.get(Array("k".utf8))
/// try db.close()
/// ```
public final class Database: Sendable {
    let core: DBCore

    init(core: DBCore) {
        self.core = core
    }

    deinit {
        try? core.close()
    }

    /// Opens the database at `path`, creating it when missing (unless
    /// `options.createIfMissing` is off). Throws `.busy` when another handle
    /// has it open, `.corruption` when its files are damaged.
    public static func open(at path: String, options: Options = Options()) throws -> Database {
        Database(core: try DBCore.open(path: path, options: options))
    }

    /// The directory of the database.
    public var path: String { core.path }

    /// The options the database was opened with.
    public var options: Options { core.options }

    // MARK: writes

    /// Sets `key` to `value`.
    public func put(_ key: [UInt8], _ value: [UInt8], in family: ColumnFamily? = nil, options: WriteOptions = WriteOptions()) throws {
        var b = WriteBatch(reservingCapacity: key.count + value.count + 8)
        b.put(key, value, in: family)
        let t0 = monotonicNanoseconds()
        defer { core.statistics.writeLatency.record(since: t0) }
        try core.write(b, options: options)
    }

    /// Removes `key` (no error when it is absent).
    public func delete(_ key: [UInt8], in family: ColumnFamily? = nil, options: WriteOptions = WriteOptions()) throws {
        var b = WriteBatch(reservingCapacity: key.count + 8)
        b.delete(key, in: family)
        let t0 = monotonicNanoseconds()
        defer { core.statistics.writeLatency.record(since: t0) }
        try core.write(b, options: options)
    }

    /// Removes every key in `[from, to)`: `from` included, `to` excluded,
    /// in the family's key order (byte-wise unless it has another comparator). Costs one record however many keys the range
    /// holds. Readers with a snapshot taken before the call still see the
    /// keys; a later `put` of a key in the range makes it visible again.
    ///
    /// An empty range (`from >= to`) deletes nothing and is a no-op: no
    /// error, nothing written. Keys longer than `maxKeySize` are refused
    /// with `.invalidArgument`.
    public func deleteRange(from: [UInt8], to: [UInt8], in family: ColumnFamily? = nil, options: WriteOptions = WriteOptions()) throws {
        try core.checkOpen()
        guard try core.resolve(family).comparator.compare(from, to) < 0 else { return }
        var b = WriteBatch(reservingCapacity: from.count + to.count + 8)
        b.deleteRange(from: from, to: to, in: family)
        try core.write(b, options: options)
    }

    /// Commits `batch` atomically, blocking until it is as durable as its
    /// commit mode promises (see Docs/durability.md).
    public func write(_ batch: WriteBatch, options: WriteOptions = WriteOptions()) throws {
        let t0 = monotonicNanoseconds()
        defer { core.statistics.writeLatency.record(since: t0) }
        try core.write(batch, options: options)
    }

    /// Commits `batch` atomically, suspending (never blocking a thread of
    /// the cooperative pool) until it is as durable as its commit mode promises.
    public func write(_ batch: WriteBatch, options: WriteOptions = WriteOptions()) async throws {
        let t0 = monotonicNanoseconds()
        defer { core.statistics.writeLatency.record(since: t0) }
        try await core.writeAsync(batch, options: options)
    }

    // MARK: reads

    /// The value of `key`, or nil when absent.
    public func get(_ key: [UInt8], in family: ColumnFamily? = nil, options: ReadOptions = ReadOptions()) throws -> [UInt8]? {
        let t0 = monotonicNanoseconds()
        defer { core.statistics.getLatency.record(since: t0) }
        return try core.get(key, in: family, options: options)
    }

    /// A consistent view of the database as of now.
    public func snapshot() -> Snapshot {
        core.snapshots.acquireLatest { core.lastSequence.load(ordering: .acquiring) }
    }

    /// An iterator over `family` honouring the snapshot and bounds in `options`.
    /// It starts unpositioned: call a seek method first.
    public func makeIterator(in family: ColumnFamily? = nil, options: ReadOptions = ReadOptions()) throws -> Iterator {
        let t0 = monotonicNanoseconds()
        defer {
            core.statistics.iteratorLatency.record(since: t0)
            core.statistics.recordIterator()
        }
        return try core.makeIterator(in: family, options: options)
    }

    // MARK: column families

    /// The default column family.
    public var defaultColumnFamily: ColumnFamily { core.defaultFamily }

    /// All column families, "default" first, then by id (creation order).
    public var columnFamilies: [ColumnFamily] { core.liveFamilies }

    /// The family named `name`, if it exists.
    public func columnFamily(_ name: String) -> ColumnFamily? {
        core.liveFamilies.first { $0.name == name }
    }

    /// Creates a column family: a separate keyspace with its own memtable,
    /// levels and `options`, sharing the database's log, so one `WriteBatch`
    /// can change several families atomically. Recorded in the MANIFEST
    /// (with its options) before this returns. Throws `.invalidArgument`
    /// when a family of that name exists or an option is out of range.
    public func createColumnFamily(_ name: String, options: ColumnFamilyOptions = ColumnFamilyOptions()) throws -> ColumnFamily {
        try core.createColumnFamily(name, options: options)
    }

    /// Drops `family`: it disappears from `columnFamilies` at once (recorded
    /// in the MANIFEST before this returns), every later use of its handle
    /// is `.invalidArgument`, and its files are deleted once no iterator or
    /// read still uses them. Iterators open on it keep working. Dropping
    /// "default" is `.invalidArgument`.
    public func dropColumnFamily(_ family: ColumnFamily) throws {
        try core.dropColumnFamily(family)
    }

    // MARK: maintenance

    /// Writes the memtables to table files and waits until they are on disk.
    /// Every column family with unflushed data is flushed: the families
    /// share one log, which can only be retired once all of them are on disk.
    public func flush() throws {
        try core.checkOpen()
        try core.flush()
    }

    /// Compacts the keys in [`begin`, `end`] (both inclusive; nil is an
    /// open end, so `compactRange(nil, nil)` compacts everything): flushes
    /// the memtable first if it holds keys in the range, then merges every
    /// level holding part of the range into the next, down to the deepest
    /// level that holds any of it. Deleted and overwritten data no snapshot
    /// needs is dropped on the way, so disk usage falls to about the live
    /// data. Blocks the caller until done; reads and writes go on meanwhile.
    /// Throws `.readOnly` after a background failure, `.closed` if the
    /// database closes first.
    public func compactRange(_ begin: [UInt8]?, _ end: [UInt8]?, in family: ColumnFamily? = nil) throws {
        try core.compactRange(begin: begin, end: end, in: family)
    }

    /// Creates an openable copy of the database at `path` (which must not
    /// exist) holding every write acknowledged before the call. Table files
    /// are hard-linked where the file system allows, so a checkpoint is
    /// cheap; it is built aside and renamed into place, so a crash never
    /// leaves a partial checkpoint behind.
    public func createCheckpoint(at path: String) throws {
        try core.createCheckpoint(at: path)
    }

    /// Counters and latency histograms kept since open; `statistics.snapshot()`
    /// reads them all at once (see Docs/architecture.md, "Statistics").
    public var statistics: Statistics { core.statistics }

    /// A named property of the database, or nil for an unknown name:
    /// `strata.num-files-at-level<N>`, `strata.estimate-num-keys`,
    /// `strata.stats` (per-level table, amplification, caches, latencies),
    /// `strata.levelstats`, `strata.block-cache-usage`,
    /// `strata.total-sst-files-size`, `strata.last-sequence`,
    /// `strata.background-error`. Level, key and memtable figures are those
    /// of `family` (nil = the default family); statistics are database-wide.
    /// Nil too for a dropped or foreign family.
    public func property(_ name: String, in family: ColumnFamily? = nil) -> String? {
        core.property(name, in: family)
    }

    /// Waits for queued writes, syncs the log and releases the database.
    /// Further calls throw `.closed`. Closing twice is harmless.
    public func close() throws {
        try core.close()
    }
}
