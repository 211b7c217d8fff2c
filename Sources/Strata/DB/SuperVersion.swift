import Synchronization

/// What a reader needs to see one consistent state of a column family: the
/// active memtable, the memtable being flushed (if any) and the table files.
/// Replaced as a whole whenever one of them changes; readers grab the
/// current one under a short lock and then read without any lock.
///
/// It also caches the fragmented range tombstones of its settled sources
/// (immutable memtable and tables), built by the first reader that needs
/// them; the active memtable keeps its own, since it still changes.
final class SuperVersion: Sendable {
    let mem: Memtable
    let imm: Memtable?
    let version: Version

    private enum TombstoneState: UInt8 {
        case unknown = 0, none = 1, some = 2
    }
    /// Whether the settled sources hold range tombstones; checked by every
    /// read, so that reads of a database without them cost one load.
    private let settledTombstoneState = Atomic<UInt8>(TombstoneState.unknown.rawValue)
    private let settled = Locked<SettledRangeDeletions?>(nil)

    init(mem: Memtable, imm: Memtable?, version: Version) {
        self.mem = mem
        self.imm = imm
        self.version = version
    }

    /// True when neither the settled sources (once looked at) nor the active
    /// memtable hold a range tombstone: the read path may ignore them.
    @inline(__always)
    var certainlyHasNoRangeTombstones: Bool {
        settledTombstoneState.load(ordering: .acquiring) == TombstoneState.none.rawValue && mem.rangeTombstoneCount == 0
    }

    /// The settled sources' tombstones, built on first use (opening any
    /// table not yet open). A failure is not cached: the next read retries.
    func settledRangeDeletions(tables: TableCache) throws -> SettledRangeDeletions {
        try settled.withLock { cached in
            if let cached { return cached }
            let built = try SettledRangeDeletions(imm: imm, version: version, tables: tables)
            cached = built
            settledTombstoneState.store((built.fragments == nil ? TombstoneState.none : .some).rawValue, ordering: .releasing)
            return built
        }
    }
}
