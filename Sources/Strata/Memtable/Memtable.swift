import Synchronization

/// The in-memory write buffer: recent records, sorted by internal key,
/// until they are flushed to a table file.
///
/// Point records (values and deletions) and range tombstones are kept in
/// two skip lists sharing one arena, so point lookups and iteration never
/// step over range tombstones, and readers of tombstones see only them.
///
/// Thread-safety contract: `add` must be called by one thread at a time
/// (the database's commit leader); everything else — `get`, iterators and
/// the statistics — may be used by any number of threads concurrently with
/// that writer, without locks. A record becomes visible to readers once
/// `add` has linked it in; callers that need a batch to appear atomically
/// do so by publishing the batch's sequence number only after adding it.
/// All stored properties are `Sendable` (the skip lists and arena document
/// their own single-writer rule), so the compiler checks this type.
final class Memtable: Sendable {
    private let arena: Arena
    private let points: SkipList
    private let rangeTombstones: SkipList
    private let count = Atomic<Int>(0)
    private let rangeTombstoneTotal = Atomic<Int>(0)
    /// Smallest sequence added; `UInt64.max` while empty.
    private let smallestSequence = Atomic<UInt64>(.max)
    /// Largest sequence added plus one; 0 while empty.
    private let largestSequencePlusOne = Atomic<UInt64>(0)

    init() {
        arena = Arena()
        points = SkipList(arena: arena)
        rangeTombstones = SkipList(arena: arena, seed: 0x2545_F491_4F6C_DD1D)
    }

    /// Adds one record. For `.value` the value is the record's value; for
    /// `.deletion` it is ignored (stored empty); for `.rangeDeletion` `key`
    /// is the inclusive begin and `value` the exclusive end user key, kept
    /// in the separate range-tombstone list. Writer only.
    func add(sequence: UInt64, kind: ValueKind, key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        precondition(sequence <= maxSequenceNumber, "sequence number out of range")
        let trailer = packTrailer(sequence, kind)
        switch kind {
        case .value:
            points.insert(userKey: key, trailer: trailer, value: value)
        case .deletion:
            points.insert(userKey: key, trailer: trailer, value: UnsafeRawBufferPointer(start: nil, count: 0))
        case .rangeDeletion:
            rangeTombstones.insert(userKey: key, trailer: trailer, value: value)
            rangeTombstoneTotal.store(rangeTombstoneTotal.load(ordering: .relaxed) &+ 1, ordering: .releasing)
        }
        // One writer, so load-then-store cannot lose an update and avoids
        // a locked read-modify-write on the insert path.
        count.store(count.load(ordering: .relaxed) &+ 1, ordering: .relaxed)
        if sequence < smallestSequence.load(ordering: .relaxed) {
            smallestSequence.store(sequence, ordering: .relaxed)
        }
        if sequence &+ 1 > largestSequencePlusOne.load(ordering: .relaxed) {
            largestSequencePlusOne.store(sequence &+ 1, ordering: .relaxed)
        }
    }

    /// The newest point record for `userKey` with sequence <=
    /// `snapshotSequence`. Range tombstones are not consulted.
    func get(_ userKey: UnsafeRawBufferPointer, snapshotSequence: UInt64) -> MemtableGetResult {
        // The seek kind sorts first among equal (key, sequence), so this
        // lands on the newest version at or below the snapshot.
        let trailer = packTrailer(min(snapshotSequence, maxSequenceNumber), .forSeek)
        guard let node = points.findGreaterOrEqual(userKey: userKey, trailer: trailer) else { return .notFound }
        let (length, prefix) = decodeTrustedVarint32(node.entry)
        let userLength = length &- 8
        let found = UnsafeRawBufferPointer(start: node.entry + prefix, count: userLength)
        guard bytesEqual(found, userKey) else { return .notFound }
        switch UInt8(truncatingIfNeeded: loadFixed64(node.entry + prefix + userLength)) {
        case ValueKind.value.rawValue: return .found(node.value.array)
        case ValueKind.deletion.rawValue: return .deleted
        default: return .notFound
        }
    }

    /// A cursor over the point records: key = internal key, value = value.
    func makeIterator() -> any InternalIterator {
        MemtableIterator(owner: self, list: points)
    }

    /// A cursor over the range tombstones (key = internal key of the begin
    /// key, kind `.rangeDeletion`; value = exclusive end user key), or nil
    /// when none have been added.
    func makeRangeTombstoneIterator() -> (any InternalIterator)? {
        guard rangeTombstoneTotal.load(ordering: .acquiring) > 0 else { return nil }
        return MemtableIterator(owner: self, list: rangeTombstones)
    }

    /// Arena bytes in use (see `Arena.memoryUsage`); readable from any thread.
    var approximateMemoryUsage: Int { arena.memoryUsage }

    /// Records added, point and range; readable from any thread.
    var entryCount: Int { count.load(ordering: .relaxed) }

    /// Range tombstones added; readable from any thread.
    var rangeTombstoneCount: Int { rangeTombstoneTotal.load(ordering: .relaxed) }

    var isEmpty: Bool { entryCount == 0 }

    /// The smallest sequence number added, nil while empty.
    var firstSequence: UInt64? {
        let s = smallestSequence.load(ordering: .relaxed)
        return s == .max ? nil : s
    }

    /// The largest sequence number added, nil while empty.
    var lastSequence: UInt64? {
        let s = largestSequencePlusOne.load(ordering: .relaxed)
        return s == 0 ? nil : s - 1
    }
}
