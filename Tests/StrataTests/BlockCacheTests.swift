import Testing
@testable import Strata

@Suite(.offCooperativePool) struct BlockCacheTests {
    /// A block of exactly `size` bytes (an empty entry area plus padding is
    /// not valid, so use opaque bytes).
    static func block(_ size: Int, fill: UInt8 = 0) throws -> Block {
        try [UInt8](repeating: fill, count: size).withUnsafeBytes { try Block.copying($0, hasEntries: false) }
    }

    @Test func hitsMissesAndCapacity() throws {
        let cache = BlockCache(capacity: 16 * 1000)
        #expect(cache.lookup(fileNumber: 1, offset: 0) == nil)
        #expect(cache.misses == 1)
        let b = try Self.block(100)
        cache.insert(fileNumber: 1, offset: 0, block: b)
        #expect(cache.lookup(fileNumber: 1, offset: 0) === b)
        #expect(cache.lookup(fileNumber: 2, offset: 0) == nil)
        #expect(cache.hits == 1)
        #expect(cache.misses == 2)
        #expect(cache.usage == 100)

        for i in 0..<2000 {
            cache.insert(fileNumber: 7, offset: UInt64(i) * 4096, block: try Self.block(100))
            #expect(cache.usage <= cache.capacity)
        }
        #expect(cache.usage > cache.capacity / 2)
        #expect(cache.count < 2000)
    }

    @Test func recentlyUsedBlocksSurvive() throws {
        let cache = BlockCache(capacity: 16 * 1024)
        let hot = try Self.block(200, fill: 1)
        cache.insert(fileNumber: 1, offset: 0, block: hot)
        for i in 1...3000 {
            cache.insert(fileNumber: 2, offset: UInt64(i), block: try Self.block(200))
            #expect(cache.lookup(fileNumber: 1, offset: 0) === hot)
        }
        // Cold entries inserted early are gone.
        #expect(cache.lookup(fileNumber: 2, offset: 1) == nil)
    }

    @Test func replacingAndOversizedBlocks() throws {
        let cache = BlockCache(capacity: 16 * 100)
        cache.insert(fileNumber: 1, offset: 0, block: try Self.block(50))
        cache.insert(fileNumber: 1, offset: 0, block: try Self.block(80))
        #expect(cache.usage == 80)
        #expect(cache.count == 1)
        // Larger than a shard's share: not cached.
        cache.insert(fileNumber: 1, offset: 8, block: try Self.block(101))
        #expect(cache.lookup(fileNumber: 1, offset: 8) == nil)
        cache.erase(fileNumber: 1)
        #expect(cache.usage == 0)
        #expect(cache.count == 0)

        let none = BlockCache(capacity: 0)
        none.insert(fileNumber: 1, offset: 0, block: try Self.block(1))
        #expect(none.lookup(fileNumber: 1, offset: 0) == nil)
    }

    @Test func concurrentUse() async throws {
        let cache = BlockCache(capacity: 16 * 2000)
        let blocks = try (0..<64).map { try Self.block(100 + $0, fill: UInt8($0)) }
        await withTaskGroup(of: Void.self) { group in
            for worker in 0..<4 {
                group.addTask {
                    var rng = SeededRandom(seed: UInt64(worker))
                    for _ in 0..<5000 {
                        let i = Int.random(in: 0..<64, using: &rng)
                        if let b = cache.lookup(fileNumber: 3, offset: UInt64(i)) {
                            #expect(b === blocks[i])
                        } else {
                            cache.insert(fileNumber: 3, offset: UInt64(i), block: blocks[i])
                        }
                    }
                }
            }
        }
        #expect(cache.hits + cache.misses == 20_000)
        #expect(cache.usage <= cache.capacity)
    }
}

@Suite(.offCooperativePool) struct BlockCacheSharingTests {
    @Test func eraseDuringConcurrentUseKeepsAccountingExact() async throws {
        let cache = BlockCache(capacity: 16 * 4000)
        let blocks = try (0..<32).map { try BlockCacheTests.block(64 + $0, fill: UInt8($0)) }
        await withTaskGroup(of: Void.self) { group in
            for worker in 0..<3 {
                group.addTask {
                    var rng = SeededRandom(seed: UInt64(worker) + 10)
                    for _ in 0..<4000 {
                        let f = UInt64.random(in: 1...3, using: &rng), i = Int.random(in: 0..<32, using: &rng)
                        if let b = cache.lookup(fileNumber: f, offset: UInt64(i) * 4096) {
                            #expect(b === blocks[i])
                        } else {
                            cache.insert(fileNumber: f, offset: UInt64(i) * 4096, block: blocks[i])
                        }
                    }
                }
            }
            group.addTask {
                for _ in 0..<200 { cache.erase(fileNumber: 2) }
            }
        }
        cache.erase(fileNumber: 2)
        for i in 0..<32 { #expect(cache.lookup(fileNumber: 2, offset: UInt64(i) * 4096) == nil) }
        // Usage is exactly the sum of the sizes of what is still cached.
        var expected = 0
        for f: UInt64 in [1, 3] {
            for i in 0..<32 where cache.lookup(fileNumber: f, offset: UInt64(i) * 4096) != nil { expected += blocks[i].size }
        }
        #expect(cache.usage == expected)
    }

    @Test func pinnedBytesLeaveLessRoomForDataBlocks() throws {
        let cache = BlockCache(capacity: 16 * 1000)
        cache.pin(bytes: 16 * 600)
        for i in 0..<1000 { cache.insert(fileNumber: 1, offset: UInt64(i) * 4096, block: try BlockCacheTests.block(100)) }
        #expect(cache.dataUsage <= 16 * 400)
        #expect(cache.usage == cache.dataUsage + 16 * 600)
        #expect(cache.usage <= cache.capacity)
        cache.unpin(bytes: 16 * 600)
        #expect(cache.usage == cache.dataUsage)
    }

    @Test func tableReadersPinIndexAndFilterWhileOpen() throws {
        var options = TableBuilderOptions(comparator: .bytewise)
        options.bloomBitsPerKey = 10
        let (bytes, _) = try TableTests.build(TableTests.entries(500), options: options)
        let cache = BlockCache(capacity: 1 << 20)
        do {
            let reader = try TableTests.open(bytes, cache: cache)
            // Index plus filter: more than the index alone.
            #expect(cache.pinnedUsage > reader.indexBlock.size)
            #expect(cache.usage == cache.pinnedUsage)
        }
        #expect(cache.pinnedUsage == 0)
    }
}
