import Synchronization

/// The engine side of one column family: its options and the super version
/// readers load. A `ColumnFamily` handle holds one; the database's family
/// table holds the handles of live families.
///
/// Locking: everything here is immutable except `dropped` (an atomic, so
/// the read path can check it without `mu`) and the super version (behind
/// its own short lock, `Locked`). What `mu` guards about a family (its
/// active and immutable memtables, the log its immutable one is covered
/// by, its compaction picker) is in `FamilySet`, reachable only with the
/// proof of holding `mu`.
final class ColumnFamilyState: Sendable {
    let name: String
    let id: UInt32
    let options: ColumnFamilyOptions
    /// The family's key order (`options.comparator`).
    let comparator: Comparator
    /// How this family's flushes and compactions build tables.
    let tableOptions: TableBuilderOptions
    /// The database that created this state: handles are valid only there.
    let owner: DatabaseIdentity
    /// Set (under `mu`) once the drop is in the MANIFEST.
    let dropped = Atomic<Bool>(false)
    private let superVersionBox: Locked<SuperVersion>
    /// Size of each memtable's key filter (`Options.memtableBloomSizeRatio`).
    let memtableKeyFilterBytes: Int

    init(name: String, id: UInt32, options: ColumnFamilyOptions, databaseOptions: Options, owner: DatabaseIdentity) {
        self.name = name
        self.id = id
        self.options = options
        self.comparator = options.comparator
        self.owner = owner
        var t = TableBuilderOptions(comparator: options.comparator)
        t.blockSize = options.blockSize
        t.restartInterval = databaseOptions.blockRestartInterval
        t.compression = options.compression
        t.bloomBitsPerKey = options.bloomBitsPerKey
        t.comparator = options.comparator
        self.tableOptions = t
        memtableKeyFilterBytes = databaseOptions.memtableKeyFilterBytes(writeBufferSize: options.writeBufferSize)
        // The first active memtable: `FamilySet.add` takes this one over.
        let m = Memtable(comparator: options.comparator, arenaBlockSize: Memtable.arenaBlockSize(forWriteBufferSize: options.writeBufferSize),
                         keyFilterBytes: memtableKeyFilterBytes)
        self.superVersionBox = Locked(SuperVersion(mem: m, imm: nil, version: .empty(options.comparator)))
    }

    /// An empty memtable sized for this family's write buffer.
    func makeMemtable() -> Memtable {
        Memtable(comparator: comparator, arenaBlockSize: Memtable.arenaBlockSize(forWriteBufferSize: options.writeBufferSize),
                 keyFilterBytes: memtableKeyFilterBytes)
    }

    /// Replaces what readers see. Caller holds `DBCore.mu` (publishes are
    /// ordered by it).
    func install(_ sv: SuperVersion) {
        superVersionBox.withLock { $0 = sv }
    }

    /// Runs `body` with the current super version inside its lock, so a
    /// caller can load a sequence number atomically with it (see
    /// `DBCore.readState`). `body` must be short and must not block.
    @inline(__always)
    func withSuperVersion<R>(_ body: (SuperVersion) -> R) -> R {
        superVersionBox.withLock { body($0) }
    }

    /// The current super version.
    @inline(__always)
    var superVersion: SuperVersion { superVersionBox.withLock { $0 } }

    /// Forgets the family's data after a drop (the caller has taken it out
    /// of the `FamilySet`), so nothing but the readers that already hold its
    /// old super version keeps its memtables and version (and so its files)
    /// alive. Caller holds `DBCore.mu`.
    func releaseAfterDrop() {
        dropped.store(true, ordering: .releasing)
        install(SuperVersion(mem: makeMemtable(), imm: nil, version: .empty(comparator)))
    }
}

/// A token identifying one open database, so a `ColumnFamily` handle from
/// another database (or an earlier open of the same one) is recognised.
final class DatabaseIdentity: Sendable {}

/// The active memtable of every live family, captured by the commit leader
/// under `mu` and used with `mu` released to insert a group's records.
/// Immutable; `FamilySet` rebuilds it whenever a memtable is switched or a
/// family created or dropped. Recovery builds one per log, holding only the families whose
/// log number says the log still concerns them.
final class ActiveMemtables: Sendable {
    /// Family 0's memtable, or nil when records for it are to be skipped.
    let defaultMemtable: Memtable?
    let others: [UInt32: Memtable]

    init(defaultMemtable: Memtable?, others: [UInt32: Memtable]) {
        self.defaultMemtable = defaultMemtable
        self.others = others
    }

    /// The memtable for family `cf`, nil when its records are skipped
    /// (family dropped, or recovery finds its data already in tables).
    @inline(__always)
    func memtable(for cf: UInt32) -> Memtable? {
        cf == 0 ? defaultMemtable : others[cf]
    }
}
