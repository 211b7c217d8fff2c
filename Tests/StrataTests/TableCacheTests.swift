import Foundation
import Testing
@testable import Strata

@Suite(.offCooperativePool) struct TableCacheTests {
    static let tables = 5
    static let keysPerTable = 40

    /// A database with `tables` level-0 tables and a table cache of two readers.
    static func openFilled(_ dir: TempDir, mmap: Bool) throws -> Database {
        var o = Options()
        o.allowMmapReads = mmap
        o.logger.logLevel = .warning
        o.maxOpenFiles = TableCache.reservedFiles + 2
        o.level0FileNumCompactionTrigger = 100  // keep every table where it is
        o.level0SlowdownWritesTrigger = 200
        o.level0StopWritesTrigger = 300
        let db = try Database.open(at: dir.path, options: o)
        for t in 0..<tables {
            for i in 0..<keysPerTable { try db.put(key(t, i), value(t, i)) }
            try db.flush()
        }
        return db
    }

    static func key(_ t: Int, _ i: Int) -> [UInt8] { utf8("t\(t)-k\(100 + i)") }
    static func value(_ t: Int, _ i: Int) -> [UInt8] { utf8("value-\(t)-\(i)") }

    /// Table files of `dir` this process has open (per /proc/self/fd) or
    /// mapped (per /proc/self/maps; a mapped table keeps no descriptor).
    static func openTableFiles(in dir: TempDir) -> Int {
        var paths = Set<String>()
        let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        for fd in fds {
            if let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/" + fd) { paths.insert(target) }
        }
        // /proc files report size 0, so read them line by line.
        if let maps = fopen("/proc/self/maps", "r") {
            defer { fclose(maps) }
            var line = [UInt8](repeating: 0, count: 4096)
            while line.withUnsafeMutableBufferPointer({ p in
                p.withMemoryRebound(to: CChar.self) { fgets($0.baseAddress, Int32($0.count), maps) }
            }) != nil {
                let text = String(decoding: line.prefix { $0 != 0 }, as: UTF8.self).trimmingCharacters(in: .newlines)
                if let slash = text.firstIndex(of: "/") { paths.insert(String(text[slash...])) }
            }
        }
        return paths.filter { $0.hasPrefix(dir.path) && $0.hasSuffix(".sst") }.count
    }

    @Test(arguments: [true, false])
    func boundIsRespectedAndEvictedFilesAreClosed(mmap: Bool) throws {
        let dir = TempDir("tablecache")
        defer { dir.cleanup() }
        let db = try Self.openFilled(dir, mmap: mmap)
        let cache = db.core.tableCache
        #expect(cache.capacity == 2)
        #expect(db.property("strata.num-files-at-level0") == String(Self.tables))
        for round in 0..<2 {
            for t in 0..<Self.tables {
                for i in stride(from: round, to: Self.keysPerTable, by: 7) {
                    #expect(try db.get(Self.key(t, i)) == Self.value(t, i))
                    #expect(cache.openCount <= 2)
                }
            }
        }
        // Cycling through five tables with room for two reopens them.
        #expect(cache.misses > UInt64(Self.tables))
        #expect(cache.hits > 0)
        #expect(Self.openTableFiles(in: dir) <= 2)
        let s = db.statistics.snapshot()
        #expect(s.tableCacheMisses == cache.misses)
        #expect(s.openTables <= 2)
        try db.close()
    }

    @Test(arguments: [true, false])
    func iteratorKeepsEvictedReadersWorking(mmap: Bool) throws {
        let dir = TempDir("tablecache")
        defer { dir.cleanup() }
        let db = try Self.openFilled(dir, mmap: mmap)
        let cache = db.core.tableCache
        do {
            let it = try db.makeIterator()
            #expect(cache.openCount <= 2)
            // The iterator holds all five readers though the cache keeps two.
            #expect(Self.openTableFiles(in: dir) == Self.tables)
            // Churn the cache while the iterator is alive.
            for t in 0..<Self.tables { #expect(try db.get(Self.key(t, 3)) == Self.value(t, 3)) }
            it.seekToFirst()
            var n = 0
            while it.isValid {
                let t = n / Self.keysPerTable, i = n % Self.keysPerTable
                #expect(it.key == Self.key(t, i))
                #expect(it.value == Self.value(t, i))
                n += 1
                it.next()
            }
            try it.checkStatus()
            #expect(n == Self.tables * Self.keysPerTable)
        }
        // With the iterator gone only the cached readers keep files open.
        #expect(Self.openTableFiles(in: dir) <= 2)
        try db.close()
    }

    @Test func unboundedWhenMaxOpenFilesIsNotPositive() {
        let cache = TableCache(directory: "/nonexistent", fileSystem: POSIXFileSystem(), blockCache: nil, maxOpenFiles: 0)
        #expect(cache.capacity > 1_000_000)
        let small = TableCache(directory: "/nonexistent", fileSystem: POSIXFileSystem(), blockCache: nil, maxOpenFiles: 3)
        #expect(small.capacity == 1)
    }

    @Test func evictingADeletedFileDropsItsBlocks() throws {
        let blocks = BlockCache(capacity: 1 << 20)
        let cache = TableCache(directory: "/nonexistent", fileSystem: POSIXFileSystem(), blockCache: blocks, maxOpenFiles: 20)
        blocks.insert(fileNumber: 5, offset: 0, block: try BlockCacheTests.block(100))
        blocks.insert(fileNumber: 6, offset: 0, block: try BlockCacheTests.block(100))
        cache.evict(5)
        #expect(blocks.lookup(fileNumber: 5, offset: 0) == nil)
        #expect(blocks.lookup(fileNumber: 6, offset: 0) != nil)
    }
}
