import FuzzSupport
@testable import Strata

// Fuzzes the MANIFEST: the VersionEdit decoder and VersionSet.recover over
// an in-memory directory holding CURRENT and a fuzzed MANIFEST.
// Input byte 0 picks the shape (mod 4):
//   0 the rest is one encoded edit, checksum and all;
//   1 the rest is an edit's fields; the harness appends the right checksum,
//     so the field decoder sees fuzzed bytes; an accepted edit must survive
//     encode -> decode unchanged;
//   2 the rest is a list of edits (byte length + fields, checksum appended)
//     written as MANIFEST records, optionally with a damaged byte;
//   3 the rest is the MANIFEST file itself.
// After a successful recover, a new manifest is written (logAndApply) and
// recovered again: the state must come back the same.

func decode(_ bytes: [UInt8]) -> VersionEdit? {
    do {
        return try VersionEdit(decoding: bytes, path: "/fuzz", offset: 0)
    } catch {
        expectRejection(error, "VersionEdit(decoding:)")
        return nil
    }
}

func withChecksum(_ fields: [UInt8]) -> [UInt8] {
    var out = fields
    out.appendFixed32(CRC32C.mask(CRC32C.checksum(fields)))
    return out
}

func options() -> Options {
    var o = Options()
    o.logger = silentLogger
    return o
}

/// What a recovered VersionSet holds, for comparing two recoveries.
struct State: Equatable {
    var families: [String]
    var files: [[[FileMetaData]]]
    var logNumbers: [UInt64]
    var lastSequence: UInt64
    var maxColumnFamily: UInt32

    init(_ v: VersionSet) {
        let cfs = v.columnFamilies
        families = cfs.map { "\($0.id):\($0.name)" }
        files = cfs.map { v.current($0.id).files }
        logNumbers = cfs.map { v.logNumber($0.id) }
        lastSequence = v.lastSequence
        maxColumnFamily = v.maxColumnFamily
    }
}

func recover(manifest: [UInt8]) {
    let fs = InMemoryFileSystem()
    let versions = VersionSet(directory: "/db", fileSystem: fs, options: options())
    do {
        try fs.createDirectory(at: "/db")
        let current = try fs.createFile(at: "/db/CURRENT")
        try current.append(Array("MANIFEST-000005\n".utf8))
        let file = try fs.createFile(at: "/db/MANIFEST-000005")
        try file.append(manifest)
    } catch {
        fuzzFailure("in-memory file system failed: \(error)")
    }
    do {
        try versions.recover()
    } catch {
        expectRejection(error, "VersionSet.recover")
        return
    }
    let before = State(versions)
    let next = versions.nextFileNumber
    do {
        try versions.logAndApply(VersionEdit())
    } catch let e as StrataError where e.kind == .invalidArgument {
        // A recovered state the engine itself would refuse to write.
        fuzzFailure("recovered a state logAndApply rejects: \(e)")
    } catch {
        fuzzFailure("logAndApply after recovery failed: \(error)")
    }
    versions.close()
    let again = VersionSet(directory: "/db", fileSystem: fs, options: options())
    do {
        try again.recover()
    } catch {
        fuzzFailure("the manifest written after recovery does not recover: \(error)")
    }
    guard State(again) == before else { fuzzFailure("state changed across rewrite and recovery") }
    guard again.nextFileNumber >= next else { fuzzFailure("next file number went back across recovery") }
}

func manifest(ofEdits input: inout FuzzInput) -> [UInt8] {
    let fs = InMemoryFileSystem()
    do {
        let w = LogWriter(file: try fs.createFile(at: "/m"))
        while !input.isAtEnd {
            let fields = input.take(input.below(256))
            try w.addRecord(withChecksum(fields))
        }
        try w.close()
        return try fs.openForReading(at: "/m").readAll(path: "/m")
    } catch {
        fuzzFailure("writing a manifest failed: \(error)")
    }
}

runFuzzer(seeds: {
    // A real MANIFEST: a database with flushed, compacted tables and a few reopens.
    let fs = InMemoryFileSystem()
    var o = options()
    o.fileSystem = fs
    o.writeBufferSize = 4096
    for round in 0..<3 {
        let db = try Database.open(at: "/db", options: o)
        for i in 0..<300 { try db.put(Array("key\(i * 7 % 300 + round)".utf8), Array(repeating: UInt8(truncatingIfNeeded: i), count: 40)) }
        try db.flush()
        if round == 1 { try db.compactRange(nil, nil) }
        try db.close()
    }
    let current = try fs.openForReading(at: "/db/CURRENT").readAll(path: "/db/CURRENT")
    let name = String(decoding: current.dropLast(), as: UTF8.self)
    let file = try fs.openForReading(at: "/db/" + name)
    let raw = try file.readAll(path: name)
    var records: [[UInt8]] = []
    let reader = LogReader(file: file, path: name, mode: .absoluteConsistency)
    while let r = try reader.next() { records.append(r) }

    var seeds: [[UInt8]] = []
    seeds.append([3] + raw)
    var edits: [UInt8] = [2]
    for r in records where r.count - 4 < 256 {
        edits.append(UInt8(r.count - 4))
        edits += r.dropLast(4)
    }
    seeds.append(edits)
    for r in records.prefix(3) {
        seeds.append([0] + r)
        seeds.append([1] + r.dropLast(4))
    }
    return seeds
}) { bytes in
    var input = FuzzInput(bytes)
    switch input.byte() % 4 {
    case 0:
        _ = decode(input.rest())
    case 1:
        if let edit = decode(withChecksum(input.rest())) {
            guard decode(edit.encode()) == edit else { fuzzFailure("an accepted edit does not survive encode -> decode") }
        }
    case 2:
        let damage = input.flag()
        let at = input.uint16()
        var file = manifest(ofEdits: &input)
        if damage && !file.isEmpty { file[at % file.count] ^= 0x20 }
        recover(manifest: file)
    default:
        recover(manifest: input.rest())
    }
}
