import Testing
import Glibc
@testable import Strata

/// An in-memory `WritableFile` collecting what a table builder writes.
final class TableTestSink: WritableFile, @unchecked Sendable {
    // Used by one test thread at a time.
    var bytes: [UInt8] = []
    func append(_ b: UnsafeRawBufferPointer) throws { bytes.append(contentsOf: b) }
    func flush() throws {}
    func sync() throws {}
    func close() throws {}
    var size: UInt64 { UInt64(bytes.count) }
}

/// An in-memory `ReadableFile` over fixed bytes.
final class TableTestSource: ReadableFile, Sendable {
    let bytes: [UInt8]
    init(_ bytes: [UInt8]) { self.bytes = bytes }
    func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard offset < UInt64(bytes.count) else { return 0 }
        let n = min(buffer.count, bytes.count - Int(offset))
        bytes.withUnsafeBytes { src in
            buffer.baseAddress!.copyMemory(from: src.baseAddress! + Int(offset), byteCount: n)
        }
        return n
    }
    var size: UInt64 { UInt64(bytes.count) }
    func close() {}
}

/// Fixed bytes exposed as a mapped file (`mappedBytes`), as
/// `POSIXFileSystem.openForMappedReading` does, so block reads take the
/// mapped path without touching the disk.
final class TableTestMappedSource: ReadableFile, @unchecked Sendable {
    // Immutable after init.
    private let storage: UnsafeMutableRawBufferPointer
    init(_ bytes: [UInt8]) {
        storage = .allocate(byteCount: max(1, bytes.count), alignment: 8)
        storage.copyBytes(from: bytes)
        size = UInt64(bytes.count)
    }
    deinit { storage.deallocate() }
    let size: UInt64
    var mappedBytes: UnsafeRawBufferPointer? { UnsafeRawBufferPointer(rebasing: storage[0..<Int(size)]) }
    func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard offset < size else { return 0 }
        let n = min(buffer.count, Int(size - offset))
        buffer.baseAddress!.copyMemory(from: storage.baseAddress! + Int(offset), byteCount: n)
        return n
    }
    func close() {}
}

/// A temporary directory removed when the test ends.
final class TableTestDirectory {
    let path: String
    init() {
        var template = Array("/tmp/strata-table-XXXXXX".utf8CString)
        let p = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        path = String(cString: p!)
    }
    deinit {
        let fs = POSIXFileSystem()
        for name in (try? fs.listDirectory(at: path)) ?? [] { try? fs.removeFile(at: path + "/" + name) }
        try? fs.removeDirectory(at: path)
    }
}

typealias TableEntry = (key: [UInt8], value: [UInt8])

@Suite(.offCooperativePool) struct TableTests {
    /// Sorted entries: every other user key, some with a tombstone over an
    /// older value, values partly repetitive so LZ4 has something to do.
    static func entries(_ n: Int, valueLength: Int = 40) -> [TableEntry] {
        var out: [TableEntry] = []
        for i in 0..<n {
            let uk = TableTestKeys.userKey(2 * i)
            if i % 10 == 3 {
                out.append((makeInternalKey(uk, 200, .deletion), []))
                out.append((makeInternalKey(uk, 100, .value), TableTestKeys.value(i, length: valueLength)))
            } else {
                out.append((makeInternalKey(uk, 150, .value), TableTestKeys.value(i, length: valueLength)))
            }
        }
        return out
    }

    static func build(_ es: [TableEntry], options: TableBuilderOptions) throws -> (bytes: [UInt8], props: TableProperties) {
        let sink = TableTestSink()
        let b = TableBuilder(file: sink, options: options)
        for e in es { try e.key.withUnsafeBytes { k in try e.value.withUnsafeBytes { v in try b.add(k, v) } } }
        let props = try b.finish()
        #expect(props.fileSize == sink.size)
        return (sink.bytes, props)
    }

    static func open(_ bytes: [UInt8], cache: BlockCache? = nil, fileNumber: UInt64 = 1, mapped: Bool = false) throws -> TableReader {
        let file: any ReadableFile = mapped ? TableTestMappedSource(bytes) : TableTestSource(bytes)
        return try TableReader.open(file: file, path: "test.sst", fileNumber: fileNumber, cache: cache, comparator: .bytewise)
    }

    static func get(_ t: TableReader, _ userKey: [UInt8], _ seq: UInt64) throws -> TableGetResult {
        try makeInternalKey(userKey, seq, .forSeek).withUnsafeBytes {
            try t.get($0, verifyChecksums: true, fillCache: true)
        }
    }

    @Test(arguments: [Compression.none, Compression.lz4])
    func roundTrip(compression: Compression) throws {
        let es = Self.entries(10_000)
        let (bytes, props) = try Self.build(es, options: TableBuilderOptions(compression: compression, comparator: .bytewise))
        let cache = BlockCache(capacity: 1 << 20)
        let t = try Self.open(bytes, cache: cache)
        #expect(t.properties == props)
        #expect(props.numEntries == UInt64(es.count))
        #expect(props.numDeletions == 1000)
        #expect(props.smallest == es.first!.key)
        #expect(props.largest == es.last!.key)
        #expect(props.dataBlocks > 10)
        if compression == .lz4 {
            #expect(bytes.count < Int(props.rawKeySize + props.rawValueSize) / 2)
        }

        // Point lookups: present, deleted, older snapshot, absent in between.
        for i in 0..<10_000 {
            let uk = TableTestKeys.userKey(2 * i)
            let value = TableTestKeys.value(i, length: 40)
            if i % 10 == 3 {
                #expect(try Self.get(t, uk, 1000) == .found(kind: .deletion, sequence: 200, value: []))
                #expect(try Self.get(t, uk, 199) == .found(kind: .value, sequence: 100, value: value))
                #expect(try Self.get(t, uk, 99) == .notFound)
            } else {
                #expect(try Self.get(t, uk, 1000) == .found(kind: .value, sequence: 150, value: value))
                #expect(try Self.get(t, uk, 150) == .found(kind: .value, sequence: 150, value: value))
                #expect(try Self.get(t, uk, 149) == .notFound)
            }
            #expect(try Self.get(t, TableTestKeys.userKey(2 * i + 1), 1000) == .notFound)
            #expect(try Self.get(t, uk + [0], 1000) == .notFound)
        }
        #expect(try Self.get(t, [], 1000) == .notFound)
        #expect(try Self.get(t, [0xff, 0xff, 0xff], 1000) == .notFound)
        #expect(cache.hits > 0)

        // Whole-table iteration both ways, and seeks.
        let it = t.makeIterator(verifyChecksums: true, fillCache: false)
        it.seekToFirst()
        var n = 0
        while it.isValid {
            #expect(it.key.array == es[n].key)
            #expect(it.value.array == es[n].value)
            n += 1
            it.next()
        }
        #expect(n == es.count)
        it.seekToLast()
        n = es.count
        while it.isValid {
            n -= 1
            #expect(it.key.array == es[n].key)
            #expect(it.value.array == es[n].value)
            it.prev()
        }
        #expect(n == 0)
        #expect(it.status() == nil)

        for i in stride(from: 0, to: es.count, by: 7) {
            es[i].key.withUnsafeBytes { it.seek($0) }
            #expect(it.key.array == es[i].key)
            // Just past this key: lands on the next entry.
            let between = makeInternalKey(Array(es[i].key.dropLast(8)) + [0], maxSequenceNumber, .forSeek)
            between.withUnsafeBytes { it.seek($0) }
            if let expected = es[(i + 1)...].first(where: { compareInternalKeys($0.key, between) >= 0 }) {
                #expect(it.key.array == expected.key)
                it.prev()
                #expect(it.isValid)
                #expect(compareInternalKeys(it.key.array, between) < 0)
            } else {
                #expect(!it.isValid)
            }
        }
        makeInternalKey([0xff], 1, .value).withUnsafeBytes { it.seek($0) }
        #expect(!it.isValid)
        #expect(it.status() == nil)
    }

    @Test func emptyTable() throws {
        let (bytes, props) = try Self.build([], options: TableBuilderOptions(comparator: .bytewise))
        #expect(props.numEntries == 0)
        let t = try Self.open(bytes)
        #expect(try Self.get(t, [1], 10) == .notFound)
        let it = t.makeIterator(verifyChecksums: true, fillCache: true)
        it.seekToFirst()
        #expect(!it.isValid)
        it.seekToLast()
        #expect(!it.isValid)
        #expect(it.status() == nil)
    }

    @Test func noFilterAndTinyBlocks() throws {
        let es = Self.entries(300, valueLength: 3)
        let (bytes, props) = try Self.build(es, options: TableBuilderOptions(blockSize: 1, restartInterval: 1, compression: .none, bloomBitsPerKey: 0, comparator: .bytewise))
        #expect(props.dataBlocks == UInt64(es.count))
        let t = try Self.open(bytes)
        #expect(t.mayContain(userKey: UnsafeRawBufferPointer(start: nil, count: 0)))
        for i in 0..<300 where i % 10 != 3 {
            #expect(try Self.get(t, TableTestKeys.userKey(2 * i), 1000) == .found(kind: .value, sequence: 150, value: TableTestKeys.value(i, length: 3)))
        }
        let it = t.makeIterator(verifyChecksums: false, fillCache: false)
        it.seekToLast()
        var n = es.count
        while it.isValid { n -= 1; #expect(it.key.array == es[n].key); it.prev() }
        #expect(n == 0)
    }

    @Test func builderRejectsBadKeys() throws {
        let b = TableBuilder(file: TableTestSink(), options: TableBuilderOptions(comparator: .bytewise))
        let k1 = makeInternalKey([2], 5, .value)
        try k1.withUnsafeBytes { try b.add($0, $0) }
        for bad in [k1, makeInternalKey([1], 5, .value), makeInternalKey([2], 6, .value), [1, 2, 3]] {
            #expect(tableTestErrorKind { try bad.withUnsafeBytes { try b.add($0, $0) } } == .invalidArgument)
        }
        _ = try b.finish()
        #expect(tableTestErrorKind { _ = try b.finish() } == .invalidArgument)
    }

    @Test func incompressibleBlocksAreStoredRaw() throws {
        var rng = SeededRandom(seed: 42)
        var es: [TableEntry] = []
        for i in 0..<200 {
            es.append((makeInternalKey(TableTestKeys.userKey(i), 1, .value), (0..<100).map { _ in UInt8.random(in: 0...255, using: &rng) }))
        }
        let random = try Self.build(es, options: TableBuilderOptions(compression: .lz4, comparator: .bytewise))
        let t = try Self.open(random.bytes)
        #expect(Self.dataBlockTypes(t, random.bytes).allSatisfy { $0 == BlockCompressionType.uncompressed.rawValue })
        for e in es {
            #expect(try Self.get(t, Array(e.key.dropLast(8)), 5) == .found(kind: .value, sequence: 1, value: e.value))
        }

        let compressible = try Self.build(Self.entries(500), options: TableBuilderOptions(compression: .lz4, comparator: .bytewise))
        let t2 = try Self.open(compressible.bytes)
        #expect(Self.dataBlockTypes(t2, compressible.bytes).allSatisfy { $0 == BlockCompressionType.lz4.rawValue })
    }

    /// The compression byte of every data block, found through the index.
    static func dataBlockTypes(_ t: TableReader, _ bytes: [UInt8]) -> [UInt8] {
        let index = BlockIterator(block: t.indexBlock, order: .bytewiseInternalKey)
        var types: [UInt8] = []
        index.seekToFirst()
        while index.isValid {
            let h = BlockHandle.decodeExactly(index.value)!
            types.append(bytes[Int(h.offset + h.size)])
            index.next()
        }
        #expect(types.count == Int(t.properties.dataBlocks))
        return types
    }

    /// Every single-byte change of a small table either fails with
    /// `.corruption` (at open or on a read) or leaves every read exactly right.
    @Test(arguments: [Compression.none, Compression.lz4])
    func everyByteFlipIsDetectedOrHarmless(compression: Compression) throws {
        let dir = TableTestDirectory()
        let path = dir.path + "/000001.sst"
        let fs = POSIXFileSystem()
        let es = Self.entries(40, valueLength: 12)
        let file = try fs.createFile(at: path)
        let b = TableBuilder(file: file, options: TableBuilderOptions(blockSize: 256, restartInterval: 4, compression: compression, comparator: .bytewise))
        for e in es { try e.key.withUnsafeBytes { k in try e.value.withUnsafeBytes { v in try b.add(k, v) } } }
        let props = try b.finish()
        try file.sync()
        try file.close()
        #expect(props.dataBlocks >= 3)
        let good = try fs.openForReading(at: path).readAll(path: path)
        #expect(try Self.readsCorrectly(good, es))
        #expect(try Self.readsCorrectly(good, es, mapped: true))
        // Through a real mapping too.
        let mappedFile = try fs.openForMappedReading(at: path)
        #expect(mappedFile.mappedBytes?.count == good.count)
        let t = try TableReader.open(file: mappedFile, path: path, fileNumber: 1, cache: nil, comparator: .bytewise)
        for e in es {
            let r = try e.key.withUnsafeBytes { try t.get($0, verifyChecksums: true, fillCache: false) }
            #expect(r == .found(kind: kindOf(e.key.withUnsafeBytes { $0 })!, sequence: e.key.withUnsafeBytes { sequenceOf($0) }, value: e.value))
        }

        for i in 0..<good.count {
            for mask: UInt8 in [0x01, 0x80] {
                var bad = good
                bad[i] ^= mask
                for mapped in [false, true] {
                    let kind = tableTestErrorKind { _ = try Self.readsCorrectly(bad, es, mapped: mapped) }
                    #expect(kind == nil || kind == .corruption, "flip of byte \(i) gave \(String(describing: kind)) (mapped: \(mapped))")
                }
            }
        }
        // Truncations: an error, never a crash or a wrong answer.
        for cut in stride(from: 0, to: good.count, by: 7) {
            for mapped in [false, true] {
                let kind = tableTestErrorKind { _ = try Self.readsCorrectly(Array(good[0..<cut]), es, mapped: mapped) }
                #expect(kind == .corruption, "cut at \(cut) gave \(String(describing: kind))")
            }
        }
    }

    /// Opens the table and reads everything; throws the first error, records
    /// an issue for any wrong answer.
    @discardableResult
    static func readsCorrectly(_ bytes: [UInt8], _ es: [TableEntry], mapped: Bool = false) throws -> Bool {
        let t = try open(bytes, cache: BlockCache(capacity: 1 << 16), mapped: mapped)
        var ok = true
        for e in es {
            let uk = Array(e.key.dropLast(8))
            let r = try e.key.withUnsafeBytes { try t.get($0, verifyChecksums: true, fillCache: true) }
            let expected = TableGetResult.found(kind: kindOf(e.key.withUnsafeBytes { $0 })!, sequence: e.key.withUnsafeBytes { sequenceOf($0) }, value: e.value)
            if r != expected { ok = false; Issue.record("wrong get result for \(uk)") }
            if try get(t, uk + [1], 1000) != .notFound { ok = false; Issue.record("phantom key") }
        }
        let it = t.makeIterator(verifyChecksums: true, fillCache: false)
        it.seekToFirst()
        var n = 0
        while it.isValid {
            if n >= es.count || it.key.array != es[n].key || it.value.array != es[n].value {
                ok = false
                Issue.record("wrong entry \(n) in scan")
                break
            }
            n += 1
            it.next()
        }
        if let e = it.status() { throw e }
        if n != es.count { ok = false; Issue.record("scan ended after \(n) entries") }
        return ok
    }

    @Test func truncatedFileIsAnError() throws {
        let es = Self.entries(40, valueLength: 12)
        let (bytes, _) = try Self.build(es, options: TableBuilderOptions(blockSize: 256, comparator: .bytewise))
        for cut in 0..<bytes.count {
            #expect(tableTestErrorKind { _ = try Self.open(Array(bytes[0..<cut])) } == .corruption)
        }
    }

    @Test func footerErrorsAreClear() throws {
        let (bytes, _) = try Self.build(Self.entries(10), options: TableBuilderOptions(comparator: .bytewise))
        let footerStart = bytes.count - TableFormat.footerSize

        var newer = bytes
        newer.storeFixed32(2, at: footerStart + 40)
        let crc = CRC32C.mask(CRC32C.checksum(Array(newer[footerStart..<footerStart + 44])))
        newer.storeFixed32(crc, at: footerStart + 44)
        do {
            _ = try Self.open(newer)
            Issue.record("newer version opened")
        } catch let e as StrataError {
            #expect(e.kind == .invalidArgument)
            #expect(e.message.contains("table format version 2 is newer than this build supports"))
        }

        var notTable = bytes
        notTable[bytes.count - 1] ^= 0xff
        do {
            _ = try Self.open(notTable)
            Issue.record("bad magic opened")
        } catch let e as StrataError {
            #expect(e.kind == .corruption)
            #expect(e.message.contains("not a Strata table"))
        }
    }

    @Test func separatorsKeepOrder() {
        var rng = SeededRandom(seed: 9)
        for _ in 0..<2000 {
            func randomKey() -> [UInt8] {
                let n = Int.random(in: 0...6, using: &rng)
                let uk = (0..<n).map { _ in [0, 1, 0x41, 0xfe, 0xff].randomElement(using: &rng)! } as [UInt8]
                return makeInternalKey(uk, UInt64.random(in: 0...3, using: &rng), .value)
            }
            var a = randomKey(), b = randomKey()
            let c = compareInternalKeys(a, b)
            if c == 0 { continue }
            if c > 0 { swap(&a, &b) }
            let s = a.withUnsafeBytes { pa in b.withUnsafeBytes { KeySeparator.shortestSeparator(pa, $0) } }
            #expect(compareInternalKeys(a, s) <= 0 && compareInternalKeys(s, b) < 0, "\(a) \(s) \(b)")
            #expect(s.count <= a.count)
            let succ = a.withUnsafeBytes { KeySeparator.shortSuccessor($0) }
            #expect(compareInternalKeys(a, succ) <= 0)
        }
        let s = makeInternalKey(Array("abcdef".utf8), 5, .value).withUnsafeBytes { pa in
            makeInternalKey(Array("abzz".utf8), 5, .value).withUnsafeBytes { KeySeparator.shortestSeparator(pa, $0) }
        }
        #expect(Array(s.dropLast(8)) == Array("abd".utf8))
    }

    @Test func concurrentGets() async throws {
        let es = Self.entries(5000)
        let (bytes, _) = try Self.build(es, options: TableBuilderOptions(comparator: .bytewise))
        let cache = BlockCache(capacity: 64 << 10)   // small: forces evictions while reading
        let t = try Self.open(bytes, cache: cache)
        let failures = try await withThrowingTaskGroup(of: Int.self) { group in
            for worker in 0..<4 {
                group.addTask {
                    var bad = 0
                    var rng = SeededRandom(seed: UInt64(worker))
                    for _ in 0..<3000 {
                        let i = Int.random(in: 0..<5000, using: &rng)
                        let r = try Self.get(t, TableTestKeys.userKey(2 * i), 1000)
                        let expected: TableGetResult = i % 10 == 3
                            ? .found(kind: .deletion, sequence: 200, value: [])
                            : .found(kind: .value, sequence: 150, value: TableTestKeys.value(i, length: 40))
                        if r != expected { bad += 1 }
                    }
                    let it = t.makeIterator(verifyChecksums: true, fillCache: true)
                    it.seekToFirst()
                    var n = 0
                    while it.isValid { n += 1; it.next() }
                    if n != es.count { bad += 1 }
                    return bad
                }
            }
            return try await group.reduce(0, +)
        }
        #expect(failures == 0)
        #expect(cache.usage <= cache.capacity)
    }
}
