import FuzzSupport
@testable import Strata

// Fuzzes TableReader: open (footer, index, meta-index, properties, filter),
// get, and full iteration both ways, on a file in an InMemoryFileSystem.
// Input byte 0 picks the shape (mod 3):
//   0 raw: the rest is the whole file.
//   1 garbage with good checksums: blocks of fuzzed content (raw, LZ4 or an
//     unknown compression type) framed with correct trailers, a meta-index
//     and index pointing at them (or at fuzzed places), and a valid footer,
//     so the decoders behind the checksums see fuzzed bytes.
//   2 model: a table written by TableBuilder from sorted entries with fuzzed
//     options must read back exactly; then a burst of up to 4 bytes (which
//     CRC32C always detects) is damaged, and every read must return the
//     right answer or a corruption error, never wrong data.
// Byte 0 / 3, when odd, reads the table through a memory mapping of a real
// temporary file (`Options.allowMmapReads`) instead of the in-memory file
// system's `pread`.

let stepLimit = 1_000_000

/// Opens and reads a table of unknown bytes: no trap, termination, and
/// only corruption errors. Returns the reader when it opened.
@discardableResult
func exercise(_ bytes: [UInt8], lookups: [[UInt8]], mapped: Bool) -> TableReader? {
    let file = mapped ? mappedFile(bytes) : readableFile(bytes, path: "/t.sst").1
    if mapped && !bytes.isEmpty && file.mappedBytes == nil { fuzzFailure("a temporary file was not mapped") }
    let table: TableReader
    do {
        table = try TableReader.open(file: file, path: "/t.sst", fileNumber: 9, cache: BlockCache(capacity: 1 << 16), comparator: .bytewise)
    } catch {
        expectRejection(error, "TableReader.open")
        return nil
    }
    var seen: [[UInt8]] = []
    let it = table.makeIterator(verifyChecksums: true, fillCache: true)
    it.seekToFirst()
    while it.isValid {
        if seen.count < 16 { seen.append(userKeyOf(it.key).array) }
        if seen.count > stepLimit { fuzzFailure("forward iteration does not end") }
        it.next()
    }
    if let e = it.status() { expectRejection(e, "table iteration") }
    let back = table.makeIterator(verifyChecksums: false, fillCache: false)
    back.seekToLast()
    var steps = 0
    while back.isValid {
        steps += 1
        if steps > stepLimit { fuzzFailure("backward iteration does not end") }
        back.prev()
    }
    if let e = back.status() { expectRejection(e, "table reverse iteration") }
    for user in seen + lookups {
        let lookup = makeInternalKey(user, maxSequenceNumber, .forSeek)
        do {
            _ = try lookup.withUnsafeBytes { try table.get($0, verifyChecksums: true, fillCache: true) }
        } catch {
            expectRejection(error, "TableReader.get")
        }
        let s = table.makeIterator(verifyChecksums: true, fillCache: true)
        lookup.withUnsafeBytes { s.seek($0) }
        if s.isValid { s.next() }
        if let e = s.status() { expectRejection(e, "table seek") }
    }
    return table
}

/// Appends `content` framed as a block (trailer with `type` and a correct CRC).
func appendBlock(_ file: inout [UInt8], _ content: [UInt8], type: UInt8) -> BlockHandle {
    let handle = BlockHandle(offset: UInt64(file.count), size: UInt64(content.count))
    file += content
    file.append(type)
    let crc = CRC32C.checksum(Array(file[Int(handle.offset)...]))
    file.appendFixed32(CRC32C.mask(crc))
    return handle
}

func blockOf(_ entries: [([UInt8], [UInt8])]) -> [UInt8] {
    var b = BlockBuilder(restartInterval: 1)
    for (k, v) in entries { k.withUnsafeBytes { kp in v.withUnsafeBytes { b.add(kp, $0) } } }
    b.finish()
    return b.buffer
}

func handleBytes(_ h: BlockHandle) -> [UInt8] {
    var out: [UInt8] = []
    h.encode(into: &out)
    return out
}

/// A block handle: usually `real`, sometimes fuzzed.
func pick(_ input: inout FuzzInput, _ real: BlockHandle) -> BlockHandle {
    switch input.below(8) {
    case 0: return BlockHandle(offset: UInt64(input.uint16()), size: UInt64(input.uint16()))
    case 1: return BlockHandle(offset: real.offset, size: real.size &+ UInt64(input.below(16)) &- 8)
    default: return real
    }
}

func garbage(_ input: inout FuzzInput, mapped: Bool) {
    var file: [UInt8] = []
    var dataHandles: [BlockHandle] = []
    for _ in 0..<(1 + input.below(4)) {
        let type = UInt8(input.below(3))
        let content = input.take(input.below(600))
        dataHandles.append(appendBlock(&file, content, type: type))
    }
    var meta: [([UInt8], [UInt8])] = []
    if input.flag() {
        let filter = appendBlock(&file, input.take(input.below(200)), type: 0)
        meta.append((Array(TableFormat.filterBlockName.utf8), handleBytes(pick(&input, filter))))
    }
    let propertiesContent: [UInt8]
    if input.flag() {
        propertiesContent = input.take(input.below(300))
    } else {
        var p = TableProperties()
        p.numEntries = UInt64(input.uint16())
        p.dataBlocks = UInt64(input.byte())
        p.smallest = input.take(input.below(12))
        p.largest = input.take(input.below(12))
        propertiesContent = p.encodeBlock()
    }
    let properties = appendBlock(&file, propertiesContent, type: 0)
    if input.below(16) != 0 {
        meta.append((Array(TableFormat.propertiesBlockName.utf8), handleBytes(pick(&input, properties))))
    }
    let metaIndex = appendBlock(&file, blockOf(meta), type: 0)
    var index: [([UInt8], [UInt8])] = []
    for h in dataHandles {
        var key = input.take(input.below(16))
        while key.count < 8 { key.append(0xff) }
        index.append((key, input.below(16) == 0 ? input.take(input.below(6)) : handleBytes(pick(&input, h))))
    }
    let indexHandle = appendBlock(&file, blockOf(index), type: UInt8(input.below(2)))
    file += TableFooter(metaIndex: metaIndex, index: indexHandle).encode()
    exercise(file, lookups: [input.rest()], mapped: mapped)
}

func model(_ input: inout FuzzInput, mapped: Bool) {
    let options = TableBuilderOptions(blockSize: 32 + input.below(2048), restartInterval: 1 + input.below(16),
                                      compression: input.flag() ? .lz4 : .none,
                                      bloomBitsPerKey: input.flag() ? 10 : 0, comparator: .bytewise)
    // Distinct user keys, each with one or two versions, sorted as internal keys.
    var users = Set<[UInt8]>()
    for _ in 0..<input.below(300) { users.insert(input.take(input.below(10))) }
    var entries: [([UInt8], [UInt8])] = []
    for (i, u) in users.sorted(by: { $0.lexicographicallyPrecedes($1) }).enumerated() {
        let value = [UInt8](repeating: UInt8(truncatingIfNeeded: i), count: i % 37)
        if i % 3 == 0 { entries.append((makeInternalKey(u, 200, .deletion), [])) }
        entries.append((makeInternalKey(u, 100, .value), value))
    }
    let fs = InMemoryFileSystem()
    var bytes: [UInt8]
    do {
        let w = try fs.createFile(at: "/m.sst")
        let builder = TableBuilder(file: w, options: options)
        for (k, v) in entries { try k.withUnsafeBytes { kp in try v.withUnsafeBytes { try builder.add(kp, $0) } } }
        _ = try builder.finish()
        try w.close()
        bytes = try fs.openForReading(at: "/m.sst").readAll(path: "/m.sst")
    } catch {
        fuzzFailure("writing a table failed: \(error)")
    }
    guard let table = exercise(bytes, lookups: [], mapped: mapped) else { fuzzFailure("a table TableBuilder wrote does not open") }
    check(table, entries, damaged: false)

    // Damage a burst of up to 32 bits, the most CRC32C is sure to catch.
    let at = input.uint16() % bytes.count
    let width = min(1 + input.below(4), bytes.count - at)
    var changed = false
    for j in 0..<width {
        let x = input.byte()
        bytes[at + j] ^= x
        changed = changed || x != 0
    }
    if !changed { bytes[at] ^= 0x01 }
    if input.flag() { bytes.removeLast(min(bytes.count, 1 + input.below(64))) }
    if let damaged = exercise(bytes, lookups: [], mapped: mapped) { check(damaged, entries, damaged: true) }
}

/// Every read of `table` returns what `entries` says; when `damaged`, a read
/// may instead fail with an error, but never return anything else.
func check(_ table: TableReader, _ entries: [([UInt8], [UInt8])], damaged: Bool) {
    let it = table.makeIterator(verifyChecksums: true, fillCache: false)
    var got = 0
    it.seekToFirst()
    while it.isValid {
        guard got < entries.count, it.key.array == entries[got].0, it.value.array == entries[got].1 else {
            fuzzFailure("forward iteration returned a wrong entry at \(got) (damaged: \(damaged))")
        }
        got += 1
        it.next()
    }
    if it.status() == nil && got != entries.count { fuzzFailure("forward iteration ended early without an error") }
    if !damaged && it.status() != nil { fuzzFailure("iterating an intact table failed: \(it.status()!)") }

    let back = table.makeIterator(verifyChecksums: true, fillCache: false)
    var index = entries.count
    back.seekToLast()
    while back.isValid {
        index -= 1
        guard index >= 0, back.key.array == entries[index].0, back.value.array == entries[index].1 else {
            fuzzFailure("backward iteration returned a wrong entry (damaged: \(damaged))")
        }
        back.prev()
    }
    if back.status() == nil && index != 0 { fuzzFailure("backward iteration ended early without an error") }

    var previousUser: [UInt8]?
    for (k, v) in entries {
        let (user, sequence, kind) = k.withUnsafeBytes { (userKeyOf($0).array, sequenceOf($0), kindOf($0)) }
        // Entries are newest first per user key; get sees only the newest.
        if user == previousUser { continue }
        previousUser = user
        let lookup = makeInternalKey(user, maxSequenceNumber, .forSeek)
        do {
            let r = try lookup.withUnsafeBytes { try table.get($0, verifyChecksums: true, fillCache: false) }
            guard case let .found(foundKind, seq, value) = r, seq == sequence, foundKind == kind, value == v else {
                fuzzFailure("get returned \(r) for an entry the table holds (damaged: \(damaged))")
            }
        } catch {
            if !damaged { fuzzFailure("get on an intact table failed: \(error)") }
            expectRejection(error, "TableReader.get")
        }
    }
}

runFuzzer(seeds: {
    var seeds: [[UInt8]] = []
    for (compression, n) in [(Compression.none, 5), (.lz4, 60)] {
        let fs = InMemoryFileSystem()
        let w = try fs.createFile(at: "/s.sst")
        let builder = TableBuilder(file: w, options: TableBuilderOptions(blockSize: 256, compression: compression, comparator: .bytewise))
        for i in 0..<n {
            let k = makeInternalKey(Array("key-\(1000 + i)".utf8), UInt64(i + 1), i % 4 == 0 ? .deletion : .value)
            let v = i % 4 == 0 ? [] : Array(repeating: UInt8(ascii: "v"), count: i)
            try k.withUnsafeBytes { kp in try v.withUnsafeBytes { try builder.add(kp, $0) } }
        }
        _ = try builder.finish()
        try w.close()
        seeds.append([0] + (try fs.openForReading(at: "/s.sst").readAll(path: "/s.sst")))
    }
    seeds.append([1, 2, 0, 20, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 1, 9, 3, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    seeds.append([2, 0x40, 0, 4, 1, 1, 40, 3, 97, 98, 99, 2, 97, 100, 1, 101, 4, 102, 103, 104, 105, 0x10, 0, 2, 0xff])
    return seeds
}) { bytes in
    var input = FuzzInput(bytes)
    let shape = input.byte()
    let mapped = (shape / 3) & 1 == 1
    switch shape % 3 {
    case 0: exercise(input.rest(), lookups: [], mapped: mapped)
    case 1: garbage(&input, mapped: mapped)
    default: model(&input, mapped: mapped)
    }
}
