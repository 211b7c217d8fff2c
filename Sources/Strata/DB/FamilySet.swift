/// Everything `mu` guards about the column families, in one home: which
/// families are live (as the write path and the background threads see
/// them), each one's active and immutable memtable and compaction picker,
/// and the `ActiveMemtables` the commit leader inserts into.
///
/// `DBCore` keeps it private and hands it out only to holders of the lock
/// (`families(_ held: borrowing MonitorHeld)`), so no code reaches a
/// family's memtable pointers without `mu`. Readers never come here: they
/// load their family's published `SuperVersion` (its own short lock) and
/// read without `mu`, and lookups by id or name use the family table
/// (`DBCore.familyTable`, changed together with this set under `mu`). As
/// with `WriteState`, the one part left to review is that callers fetch the
/// set per critical section and do not keep the reference past it.
///
/// Its rules are plain methods: no lock, no I/O. `activeMemtables` is
/// rebuilt by every change of a member's active memtable or of the
/// membership, so it cannot go stale; FamilySetTests drives the rules in
/// one thread.
final class FamilySet {
    /// One live family's guarded part.
    struct Member {
        let state: ColumnFamilyState
        /// The memtable the commit leader inserts into.
        fileprivate(set) var mem: Memtable
        /// The memtable switched out and waiting for (or in) its flush.
        fileprivate(set) var imm: Memtable?
        /// The log that became live when `imm` was switched out: every older
        /// log holds nothing of this family that is not in `imm` or a table.
        fileprivate(set) var immLogNumber: UInt64 = 0
        /// The family's compaction picker; its compaction pointers change
        /// with each pick, so it is guarded state too.
        let picker: CompactionPicker
        /// `state.options.writeBufferSize`, kept here so the per-group
        /// "is a memtable full?" check touches only this array.
        private let writeBufferSize: Int

        fileprivate init(state: ColumnFamilyState, mem: Memtable, picker: CompactionPicker) {
            self.state = state
            self.mem = mem
            self.picker = picker
            self.writeBufferSize = state.options.writeBufferSize
        }

        var id: UInt32 { state.id }

        /// The active memtable reached the family's write buffer size.
        @inline(__always)
        var isFull: Bool { mem.approximateMemoryUsage >= writeBufferSize }
    }

    /// Live families, by ascending id ("default", id 0, first).
    @exclusivity(unchecked) private(set) var members: [Member] = []
    /// Every member's active memtable, for the commit leader to capture
    /// under `mu` and insert into with `mu` released.
    @exclusivity(unchecked) private(set) var activeMemtables = ActiveMemtables(defaultMemtable: nil, others: [:])
    /// Options the pickers of new members are made with.
    private let databaseOptions: Options

    /// A set holding only `defaultFamily`.
    init(defaultFamily: ColumnFamilyState, databaseOptions: Options) {
        self.databaseOptions = databaseOptions
        add(defaultFamily)
    }

    // MARK: membership

    /// The live families' states, by ascending id.
    var states: [ColumnFamilyState] { members.map(\.state) }

    /// The member with id `id`; nil when no live family has it (dropped,
    /// or never created).
    func member(_ id: UInt32) -> Member? {
        members.first { $0.id == id }
    }

    /// Makes `state` a live family. Its active memtable is the (empty) one
    /// its first super version shows, so readers and the commit leader
    /// agree before the first publish.
    func add(_ state: ColumnFamilyState) {
        precondition(member(state.id) == nil, "column family id \(state.id) is already live")
        let m = Member(state: state, mem: state.superVersion.mem, picker: CompactionPicker(options: databaseOptions))
        let at = members.firstIndex { $0.id > state.id } ?? members.endIndex
        members.insert(m, at: at)
        rebuildActiveMemtables()
    }

    /// Takes family `id` out of the set (a drop). Returns its member, nil
    /// when it was not live.
    @discardableResult
    func remove(_ id: UInt32) -> Member? {
        guard let i = members.firstIndex(where: { $0.id == id }) else { return nil }
        precondition(id != 0, "the default column family is never removed")
        let m = members.remove(at: i)
        rebuildActiveMemtables()
        return m
    }

    // MARK: the write path's checks

    /// Some family's active memtable is full: the next group switches.
    /// Checked by every commit group.
    @inline(__always)
    var anyMemtableFull: Bool {
        members.contains { $0.isFull }
    }

    /// No family's active memtable holds anything: a forced switch has
    /// nothing to flush.
    var allMemtablesEmpty: Bool {
        members.allSatisfy { $0.mem.isEmpty }
    }

    // MARK: memtable switch and flush

    /// The memtable switch: every non-empty active memtable becomes its
    /// family's immutable one, covered by the new live log `logNumber`, and
    /// is replaced by an empty one. Returns the families switched (to be
    /// published). The caller switches only once the previous switch's
    /// flushes are done (`WriteState.flushPending`), so no family still
    /// has an immutable memtable.
    func retireMemtables(newLog logNumber: UInt64) -> [ColumnFamilyState] {
        var switched: [ColumnFamilyState] = []
        for i in members.indices where !members[i].mem.isEmpty {
            precondition(members[i].imm == nil, "a memtable switch waits for the previous flush")
            members[i].imm = members[i].mem
            members[i].immLogNumber = logNumber
            members[i].mem = members[i].state.makeMemtable()
            switched.append(members[i].state)
        }
        if !switched.isEmpty { rebuildActiveMemtables() }
        return switched
    }

    /// The first family (by id) with an immutable memtable to flush.
    func nextToFlush() -> Member? {
        members.first { $0.imm != nil }
    }

    /// Family `id`'s immutable memtable `flushed` is in a table now: it is
    /// forgotten. Returns false when the family is no longer live (dropped
    /// while the table was written).
    @discardableResult
    func finishFlush(of id: UInt32, flushed: Memtable) -> Bool {
        guard let i = members.firstIndex(where: { $0.id == id }) else { return false }
        // Only the flush thread clears `imm`, and only the next switch sets
        // it again, after this flush: it is still the memtable flushed.
        precondition(members[i].imm === flushed, "the immutable memtable changed during its flush")
        members[i].imm = nil
        return true
    }

    /// A read-only handle's catch-up (or its open): each family in
    /// `memtables` gets that memtable as its active one (replayed from the
    /// writer's logs) and no immutable one.
    func replaceMemtables(_ memtables: [UInt32: Memtable]) {
        for i in members.indices {
            guard let m = memtables[members[i].id] else { continue }
            members[i].mem = m
            members[i].imm = nil
        }
        rebuildActiveMemtables()
    }

    private func rebuildActiveMemtables() {
        var others: [UInt32: Memtable] = [:]
        var defaultMemtable: Memtable?
        for m in members {
            if m.id == 0 { defaultMemtable = m.mem } else { others[m.id] = m.mem }
        }
        activeMemtables = ActiveMemtables(defaultMemtable: defaultMemtable, others: others)
    }
}
