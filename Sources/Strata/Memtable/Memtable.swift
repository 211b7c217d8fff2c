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
    /// The family's key order.
    let comparator: Comparator
    private let arena: Arena
    private let points: SkipList
    private let rangeTombstones: SkipList
    /// Bloom filter over the point records' user keys; nil when disabled.
    private let keyFilter: MemtableKeyFilter?
    private let count = Atomic<Int>(0)
    private let rangeTombstoneTotal = Atomic<Int>(0)
    /// Smallest sequence added; `UInt64.max` while empty.
    private let smallestSequence = Atomic<UInt64>(.max)
    /// Largest sequence added plus one; 0 while empty.
    private let largestSequencePlusOne = Atomic<UInt64>(0)
    /// Largest sequence of a point record (value or deletion); 0 while none.
    private let largestPointSequence = Atomic<UInt64>(0)
    /// The tombstones fragmented for readers, with the tombstone count they
    /// were built from; rebuilt by the first reader that finds the count
    /// has moved on. Guarded by its own lock, taken only when tombstones exist.
    private let fragmentCache = Locked<(count: Int, fragments: RangeTombstoneFragments?)>((0, nil))

    /// An empty memtable ordering user keys by `comparator`;
    /// `arenaBlockSize`: see `arenaBlockSize(forWriteBufferSize:)`;
    /// `keyFilterBytes`: size of the key filter that lets `get` skip the
    /// skip list for absent keys (0: no filter; see `Options.memtableKeyFilterBytes(writeBufferSize:)`).
    init(comparator: Comparator, arenaBlockSize: Int = 1 << 20, keyFilterBytes: Int = 0) {
        self.comparator = comparator
        keyFilter = keyFilterBytes > 0 ? MemtableKeyFilter(bytes: keyFilterBytes) : nil
        arena = Arena(blockSize: arenaBlockSize)
        points = SkipList(arena: arena, comparator: comparator)
        rangeTombstones = SkipList(arena: arena, comparator: comparator, seed: 0x2545_F491_4F6C_DD1D)
    }

    /// Arena blocks an eighth of the write buffer (4 KiB to 1 MiB): a
    /// memtable reserves its first block at once, so a family with a small
    /// write buffer must not hold a whole mebibyte per memtable.
    static func arenaBlockSize(forWriteBufferSize size: Int) -> Int {
        min(1 << 20, max(4096, size / 8))
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
            keyFilter?.add(bloomHash(key))
            points.insert(userKey: key, trailer: trailer, value: value)
            notePointSequence(sequence)
        case .deletion:
            keyFilter?.add(bloomHash(key))
            points.insert(userKey: key, trailer: trailer, value: UnsafeRawBufferPointer(start: nil, count: 0))
            notePointSequence(sequence)
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

    private func notePointSequence(_ sequence: UInt64) {
        if sequence > largestPointSequence.load(ordering: .relaxed) {
            largestPointSequence.store(sequence, ordering: .relaxed)
        }
    }

    /// The newest point record for `userKey` with sequence <=
    /// `snapshotSequence`. Range tombstones are not consulted.
    func get(_ userKey: UnsafeRawBufferPointer, snapshotSequence: UInt64) -> MemtableGetResult {
        var sequence: SequenceNumber = 0
        return get(userKey, snapshotSequence: snapshotSequence, sequence: &sequence)
    }

    /// `get`, also reporting the found record's sequence in `sequence`
    /// (left alone when `.notFound`), for checking it against range tombstones.
    func get(_ userKey: UnsafeRawBufferPointer, snapshotSequence: UInt64, sequence: inout SequenceNumber) -> MemtableGetResult {
        // The seek kind sorts first among equal (key, sequence), so this
        // lands on the newest version at or below the snapshot.
        if let keyFilter, !keyFilter.mayContain(bloomHash(userKey)) { return .notFound }
        let trailer = packTrailer(min(snapshotSequence, maxSequenceNumber), .forSeek)
        guard let node = points.findGreaterOrEqual(userKey: userKey, trailer: trailer) else { return .notFound }
        let (length, prefix) = decodeTrustedVarint32(node.entry)
        let userLength = length &- 8
        let found = UnsafeRawBufferPointer(start: node.entry + prefix, count: userLength)
        guard bytesEqual(found, userKey) else { return .notFound }
        let foundTrailer = loadFixed64(node.entry + prefix + userLength)
        switch UInt8(truncatingIfNeeded: foundTrailer) {
        case ValueKind.value.rawValue:
            sequence = foundTrailer >> 8
            return .found(node.value.array)
        case ValueKind.deletion.rawValue:
            sequence = foundTrailer >> 8
            return .deleted
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

    /// Every range tombstone added so far, in begin-key order.
    func rangeTombstoneList() -> [RangeTombstone] {
        guard let it = makeRangeTombstoneIterator() else { return [] }
        var result: [RangeTombstone] = []
        it.seekToFirst()
        while it.isValid {
            result.append(RangeTombstone(begin: userKeyOf(it.key).array, end: it.value.array, sequence: sequenceOf(it.key)))
            it.next()
        }
        return result
    }

    /// The range tombstones fragmented for readers, nil when there are
    /// none. Includes at least every tombstone added before this call (a
    /// reader that loaded the published sequence first thus sees all it
    /// may need); built once per tombstone count and shared.
    func rangeTombstoneFragments() -> RangeTombstoneFragments? {
        let total = rangeTombstoneTotal.load(ordering: .acquiring)
        guard total > 0 else { return nil }
        return fragmentCache.withLock { cache in
            if cache.count >= total, let f = cache.fragments { return f }
            // The list holds every tombstone counted in `total` (linked
            // before the count moved) and maybe a few newer ones; the cache
            // claims only `total`, since a concurrent insert may be missed.
            let f = RangeTombstoneFragments(rangeTombstoneList(), comparator: comparator)
            cache = (total, f)
            return f
        }
    }

    /// The largest sequence of a point record; 0 while there is none.
    var maxPointSequence: SequenceNumber { largestPointSequence.load(ordering: .relaxed) }

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
