import Synchronization

/// Decompressed blocks shared by every table reader, keyed by
/// (file number, block offset), bounded by their total byte size.
///
/// Sharded so concurrent readers rarely wait on each other: each of the 16
/// shards is an LRU list behind its own `Mutex` with a sixteenth of the
/// capacity. A cached block stays alive while an iterator uses it even
/// after eviction, because readers hold their own reference.
final class BlockCache: Sendable {
    static let shardCount = 16

    let capacity: Int
    private let shards: [LockedShard]

    init(capacity: Int) {
        self.capacity = max(0, capacity)
        let perShard = (self.capacity + Self.shardCount - 1) / Self.shardCount
        shards = (0..<Self.shardCount).map { _ in LockedShard(capacity: perShard) }
    }

    @inline(__always)
    private func shard(_ key: BlockCacheKey) -> Int {
        // Offsets are spread out by block size; mix before taking bits.
        var h = key.fileNumber &* 0x9E37_79B9_7F4A_7C15 ^ key.offset
        h = (h ^ (h >> 29)) &* 0xBF58_476D_1CE4_E5B9
        return Int(truncatingIfNeeded: h >> 60) & (Self.shardCount - 1)
    }

    func lookup(fileNumber: UInt64, offset: UInt64) -> Block? {
        let key = BlockCacheKey(fileNumber: fileNumber, offset: offset)
        return shards[shard(key)].state.withLock { $0.lookup(key) }
    }

    /// Caches `block`, charging its byte size and evicting least recently
    /// used blocks to stay within capacity. A block larger than a shard's
    /// share of the capacity is not cached.
    func insert(fileNumber: UInt64, offset: UInt64, block: Block) {
        let key = BlockCacheKey(fileNumber: fileNumber, offset: offset)
        shards[shard(key)].state.withLock { $0.insert(key, block) }
    }

    /// Drops every block of a file (after it is deleted).
    func erase(fileNumber: UInt64) {
        for s in shards { s.state.withLock { $0.erase(fileNumber: fileNumber) } }
    }

    var hits: UInt64 { shards.reduce(0) { sum, s in sum + s.state.withLock { $0.hits } } }
    var misses: UInt64 { shards.reduce(0) { sum, s in sum + s.state.withLock { $0.misses } } }
    var usage: Int { shards.reduce(0) { sum, s in sum + s.state.withLock { $0.usage } } }
    var count: Int { shards.reduce(0) { sum, s in sum + s.state.withLock { $0.count } } }
}

/// A shard and its lock. A class because `Mutex` cannot live in an array;
/// the separate allocations also keep shards' locks off shared cache lines.
private final class LockedShard: Sendable {
    let state: Mutex<BlockCacheShard>
    init(capacity: Int) { state = Mutex(BlockCacheShard(capacity: capacity)) }
}

/// Identifies a block across all tables.
struct BlockCacheKey: Hashable, Sendable {
    var fileNumber: UInt64
    var offset: UInt64
}

/// One LRU shard: a dictionary into a node pool whose nodes form a doubly
/// linked list by index (most recent at `head`), so a hit allocates nothing.
struct BlockCacheShard {
    private struct Node {
        var key: BlockCacheKey
        var block: Block?
        var prev: Int32
        var next: Int32
    }

    let capacity: Int
    private(set) var usage = 0
    private(set) var hits: UInt64 = 0
    private(set) var misses: UInt64 = 0
    private var map: [BlockCacheKey: Int32] = [:]
    private var nodes: [Node] = []
    private var free: [Int32] = []
    private var head: Int32 = -1
    private var tail: Int32 = -1

    init(capacity: Int) {
        self.capacity = capacity
    }

    var count: Int { map.count }

    mutating func lookup(_ key: BlockCacheKey) -> Block? {
        guard let i = map[key] else {
            misses += 1
            return nil
        }
        hits += 1
        moveToFront(i)
        return nodes[Int(i)].block
    }

    mutating func insert(_ key: BlockCacheKey, _ block: Block) {
        let charge = block.size
        if let i = map[key] {
            usage += charge - nodes[Int(i)].block!.size
            nodes[Int(i)].block = block
            moveToFront(i)
        } else {
            guard charge <= capacity else { return }
            let i: Int32
            if let f = free.popLast() {
                i = f
                nodes[Int(i)] = Node(key: key, block: block, prev: -1, next: -1)
            } else {
                i = Int32(nodes.count)
                nodes.append(Node(key: key, block: block, prev: -1, next: -1))
            }
            map[key] = i
            linkAtFront(i)
            usage += charge
        }
        while usage > capacity && tail >= 0 {
            remove(tail)
        }
    }

    mutating func erase(fileNumber: UInt64) {
        var i = head
        while i >= 0 {
            let next = nodes[Int(i)].next
            if nodes[Int(i)].key.fileNumber == fileNumber { remove(i) }
            i = next
        }
    }

    private mutating func remove(_ i: Int32) {
        unlink(i)
        let node = nodes[Int(i)]
        usage -= node.block!.size
        map[node.key] = nil
        nodes[Int(i)].block = nil
        free.append(i)
    }

    private mutating func moveToFront(_ i: Int32) {
        guard head != i else { return }
        unlink(i)
        linkAtFront(i)
    }

    private mutating func unlink(_ i: Int32) {
        let p = nodes[Int(i)].prev, n = nodes[Int(i)].next
        if p >= 0 { nodes[Int(p)].next = n } else { head = n }
        if n >= 0 { nodes[Int(n)].prev = p } else { tail = p }
        nodes[Int(i)].prev = -1
        nodes[Int(i)].next = -1
    }

    private mutating func linkAtFront(_ i: Int32) {
        nodes[Int(i)].prev = -1
        nodes[Int(i)].next = head
        if head >= 0 { nodes[Int(head)].prev = i }
        head = i
        if tail < 0 { tail = i }
    }
}
