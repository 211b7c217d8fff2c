import Synchronization

/// Decompressed blocks shared by every table reader, keyed by
/// (file number, block offset), bounded by their total byte size.
///
/// Index and filter blocks count against the capacity too: an open table
/// reader keeps them in memory for its lifetime and pins their bytes here
/// (`pin`/`unpin`), which lowers the room left for data blocks; the data
/// blocks give way at the next insert into each shard.
///
/// Sharded so concurrent readers rarely wait on each other: each of the 16
/// shards is an `LRUTable` (open addressing, intrusive LRU list) behind its
/// own lock (`Locked`) with a sixteenth of the capacity. A cached block stays alive
/// while an iterator uses it even after eviction, because readers hold
/// their own reference.
final class BlockCache: BlockCacheCounters {
    static let shardCount = 16

    let capacity: Int
    private let shards: [LockedBlockCacheShard]
    /// Bytes of index and filter blocks held by open table readers.
    private let pinned = Atomic<Int>(0)

    init(capacity: Int) {
        self.capacity = max(0, capacity)
        let perShard = (self.capacity + Self.shardCount - 1) / Self.shardCount
        shards = (0..<Self.shardCount).map { _ in LockedBlockCacheShard(capacity: perShard) }
    }

    /// The shard of a key: low hash bits, independent of the top bits that
    /// pick the slot inside the shard's table.
    @inline(__always)
    private func shard(_ fileNumber: UInt64, _ offset: UInt64) -> LockedBlockCacheShard {
        let h = LRUTable<Block>.hash(fileNumber, offset)
        return shards[Int(truncatingIfNeeded: h) & (Self.shardCount - 1)]
    }

    /// The cached block, counted as a hit or a miss.
    @inline(__always)
    func lookup(fileNumber: UInt64, offset: UInt64) -> Block? {
        shard(fileNumber, offset).state.withLock { $0.lookup(fileNumber, offset) }
    }

    /// Caches `block`, charging its byte size and evicting least recently
    /// used blocks to stay within capacity. A block larger than a shard's
    /// share of the capacity is not cached.
    func insert(fileNumber: UInt64, offset: UInt64, block: Block) {
        let perShard = (capacity - pinned.load(ordering: .relaxed)) / Self.shardCount
        shard(fileNumber, offset).state.withLock { s in
            _ = s.table.insert(fileNumber, offset, block, charge: block.size, limit: perShard, evicted: { _ in })
        }
    }

    /// Charges `bytes` held outside the cache (a table's index and filter).
    func pin(bytes: Int) { pinned.add(bytes, ordering: .relaxed) }

    /// Returns a charge taken by `pin`.
    func unpin(bytes: Int) { pinned.subtract(bytes, ordering: .relaxed) }

    /// Bytes pinned by open table readers.
    var pinnedUsage: Int { pinned.load(ordering: .relaxed) }

    /// Drops every block of a file (after it is deleted).
    func erase(fileNumber: UInt64) {
        for s in shards { s.state.withLock { $0.table.removeAll(k0: fileNumber, evicted: { _ in }) } }
    }

    /// Lookups that found their block.
    var hits: UInt64 { shards.reduce(0) { sum, s in sum + s.state.withLock { $0.hits } } }
    /// Lookups that did not.
    var misses: UInt64 { shards.reduce(0) { sum, s in sum + s.state.withLock { $0.misses } } }
    /// Bytes of data blocks held (exact sum of `Block.size`).
    var dataUsage: Int { shards.reduce(0) { sum, s in sum + s.state.withLock { $0.table.usage } } }
    /// Bytes charged: data blocks plus pinned index and filter blocks.
    var usage: Int { dataUsage + pinnedUsage }
    /// Blocks held.
    var count: Int { shards.reduce(0) { sum, s in sum + s.state.withLock { $0.table.count } } }
}

/// A shard and its lock, each shard a separate allocation, which keeps the
/// shards' locks off shared cache lines.
private final class LockedBlockCacheShard: Sendable {
    let state: Locked<BlockCacheShard>
    init(capacity: Int) { state = Locked(BlockCacheShard(table: LRUTable(capacity: capacity))) }
}

/// One shard's blocks and its hit/miss counts (counted under the shard's
/// lock, which the lookup takes anyway, so counting costs no extra atomics).
struct BlockCacheShard {
    var table: LRUTable<Block>
    var hits: UInt64 = 0
    var misses: UInt64 = 0

    @inline(__always)
    mutating func lookup(_ fileNumber: UInt64, _ offset: UInt64) -> Block? {
        if let b = table.get(fileNumber, offset) {
            hits &+= 1
            return b
        }
        misses &+= 1
        return nil
    }
}
