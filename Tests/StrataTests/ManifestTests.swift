import Foundation
import Testing
@testable import Strata

/// A temporary database directory removed when the test ends.
private final class ManifestTempDir {
    let path: String
    let fs = POSIXFileSystem()
    init() throws {
        path = FileManager.default.temporaryDirectory.path + "/strata-tests-" + UUID().uuidString
        try fs.createDirectory(at: path)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }

    func read(_ file: String) throws -> [UInt8] {
        let f = try fs.openForReading(at: file)
        defer { f.close() }
        return try f.readAll(path: file)
    }

    func write(_ file: String, _ bytes: [UInt8]) throws {
        let f = try fs.createFile(at: file)
        try f.append(bytes)
        try f.close()
    }
}

private func ikey(_ s: String, _ seq: UInt64 = 1) -> [UInt8] {
    makeInternalKey(Array(s.utf8), seq, .value)
}

private func file(_ number: UInt64, _ lo: String, _ hi: String, size: UInt64 = 1000) -> FileMetaData {
    FileMetaData(number: number, size: size, smallest: ikey(lo, 9), largest: ikey(hi, 3), numEntries: number * 10)
}

private func sampleEdit() -> VersionEdit {
    var e = VersionEdit()
    e.columnFamily = 3
    e.comparatorName = "strata.bytewise"
    e.logNumber = 17
    e.nextFileNumber = 1 << 40
    e.lastSequence = 123_456_789
    e.addColumnFamily = "messages ✉️"
    e.maxColumnFamily = 3
    e.deleteFile(level: 1, number: 5)
    e.deleteFile(level: 6, number: 300)
    e.addFile(level: 0, file(9, "a", "m"))
    e.addFile(level: 2, FileMetaData(number: 10, size: 0, smallest: ikey(""), largest: ikey("\u{FF}zz", 0), numEntries: 0))
    return e
}

/// Snapshot of what a VersionSet holds, for comparing before and after recovery.
private struct SetState: Equatable {
    var files: [UInt32: [[UInt64]]]
    var families: [UInt32]
    var names: [String]
    var logNumbers: [UInt64]
    var lastSequence: UInt64

    init(_ vs: VersionSet) {
        let cfs = vs.columnFamilies
        families = cfs.map(\.id)
        names = cfs.map(\.name)
        logNumbers = cfs.map { vs.logNumber($0.id) }
        var files: [UInt32: [[UInt64]]] = [:]
        for cf in cfs { files[cf.id] = vs.current(cf.id).files.map { $0.map(\.number) } }
        self.files = files
        lastSequence = vs.lastSequence
    }
}

@Suite(.offCooperativePool) struct ManifestTests {
    // MARK: VersionEdit encoding

    @Test func editRoundTrip() throws {
        for edit in [VersionEdit(), sampleEdit()] {
            let bytes = edit.encode()
            let decoded = try VersionEdit(decoding: bytes, path: "M", offset: 0)
            #expect(decoded == edit)
        }
        var drop = VersionEdit()
        drop.columnFamily = 7
        drop.dropColumnFamily = true
        #expect(try VersionEdit(decoding: drop.encode(), path: "M", offset: 0) == drop)
    }

    @Test func everyTruncationAndByteFlipThrowsOrDecodesEqual() throws {
        let edit = sampleEdit()
        let bytes = edit.encode()
        for n in 0..<bytes.count {
            #expect(throws: StrataError.self, "length \(n)") {
                _ = try VersionEdit(decoding: Array(bytes[0..<n]), path: "M", offset: 0)
            }
        }
        for i in bytes.indices {
            for mask: UInt8 in [0x01, 0x10, 0x80, 0xFF] {
                var damaged = bytes
                damaged[i] ^= mask
                do {
                    let decoded = try VersionEdit(decoding: damaged, path: "M", offset: 7)
                    #expect(decoded == edit, "byte \(i) mask \(mask)")
                } catch let e as StrataError {
                    #expect(e.kind == .corruption || e.kind == .invalidArgument)
                    #expect(e.message.hasPrefix("M"))
                }
            }
        }
    }

    /// Bytes of fields followed by their masked CRC, as `encode` frames them.
    private func framed(_ body: [UInt8]) -> [UInt8] {
        var out = body
        out.appendFixed32(CRC32C.mask(CRC32C.checksum(body)))
        return out
    }

    @Test func newerFormatAndUnknownTags() throws {
        let newer = framed([1, UInt8(VersionEdit.formatVersion + 1), 3, 5])
        let e1 = #expect(throws: StrataError.self) { try VersionEdit(decoding: newer, path: "M", offset: 0) }
        #expect(e1?.kind == .invalidArgument)
        #expect(e1?.message.contains("newer version") == true)

        let unknown = framed([1, 1, 99, 0])
        let e2 = #expect(throws: StrataError.self) { try VersionEdit(decoding: unknown, path: "M", offset: 40) }
        #expect(e2?.kind == .corruption)
        #expect(e2?.message.contains("unknown field tag 99") == true)
        #expect(e2?.message.contains("offset 40") == true)

        let noVersion = framed([3, 5])
        #expect(throws: StrataError.self) { try VersionEdit(decoding: noVersion, path: "M", offset: 0) }
        let duplicate = framed([1, 1, 3, 5, 3, 6])
        #expect(throws: StrataError.self) { try VersionEdit(decoding: duplicate, path: "M", offset: 0) }
        let badLevel = framed([1, 1, 10, 7, 1])
        #expect(throws: StrataError.self) { try VersionEdit(decoding: badLevel, path: "M", offset: 0) }
    }

    // MARK: Version queries

    @Test func filesForGetAndOverlap() throws {
        var edit = VersionEdit()
        edit.addFile(level: 0, file(1, "c", "k"))
        edit.addFile(level: 0, file(4, "a", "d"))
        edit.addFile(level: 0, file(3, "m", "p"))
        edit.addFile(level: 1, file(10, "b", "d"))
        edit.addFile(level: 1, file(11, "f", "h"))
        edit.addFile(level: 1, file(12, "h\u{0}", "k"))
        edit.addFile(level: 1, file(13, "x", "z"))
        var builder = VersionBuilder(base: .empty, comparator: .bytewise)
        try builder.apply(edit)
        let v = try builder.build()
        #expect(v.files[0].map(\.number) == [4, 3, 1])
        #expect(v.files[1].map(\.number) == [10, 11, 12, 13])
        #expect(v.totalFiles == 7)
        #expect(v.levelSize(1) == 4000)

        func get(_ level: Int, _ key: String) -> [UInt64] {
            Array(key.utf8).withUnsafeBytes { v.filesForGet(level: level, userKey: $0).map(\.number) }
        }
        #expect(get(0, "c") == [4, 1])
        #expect(get(0, "d") == [4, 1])
        #expect(get(0, "e") == [1])
        #expect(get(0, "l") == [])
        #expect(get(0, "p") == [3])
        #expect(get(1, "a") == [])
        #expect(get(1, "b") == [10])
        #expect(get(1, "d") == [10])
        #expect(get(1, "e") == [])
        #expect(get(1, "h") == [11])
        #expect(get(1, "h\u{0}") == [12])
        #expect(get(1, "k") == [12])
        #expect(get(1, "y") == [13])
        #expect(get(1, "zz") == [])
        #expect(get(2, "b") == [])

        func overlap(_ level: Int, _ lo: String?, _ hi: String?) -> [UInt64] {
            v.overlappingFiles(level: level, smallestUserKey: lo.map { Array($0.utf8) },
                               largestUserKey: hi.map { Array($0.utf8) }).map(\.number)
        }
        #expect(overlap(1, nil, nil) == [10, 11, 12, 13])
        #expect(overlap(1, "d", "f") == [10, 11])
        #expect(overlap(1, "e", "e") == [])
        #expect(overlap(1, "i", nil) == [12, 13])
        #expect(overlap(1, nil, "b") == [10])
        #expect(overlap(1, "zz", nil) == [])
        #expect(overlap(1, "h", "h") == [11])
        #expect(overlap(0, "d", "d") == [4, 1])
        #expect(overlap(0, "l", "m") == [3])
        #expect(overlap(0, nil, "a") == [4])
        #expect(overlap(0, "q", nil) == [])
    }

    @Test func builderRejectsInconsistentEdits() throws {
        var builder = VersionBuilder(base: .empty, comparator: .bytewise)
        var add = VersionEdit()
        add.addFile(level: 1, file(1, "a", "c"))
        try builder.apply(add)
        var overlapping = VersionEdit()
        overlapping.addFile(level: 1, file(2, "c", "d"))
        var b2 = builder
        try b2.apply(overlapping)
        #expect(throws: StrataError.self) { try b2.build() }
        var again = VersionEdit()
        again.addFile(level: 3, file(1, "x", "y"))
        var b3 = builder
        #expect(throws: StrataError.self) { try b3.apply(again) }
        var missing = VersionEdit()
        missing.deleteFile(level: 2, number: 1)
        var b4 = builder
        #expect(throws: StrataError.self) { try b4.apply(missing) }
        // A move: delete at level 1, add at level 2 in one edit.
        var move = VersionEdit()
        move.deleteFile(level: 1, number: 1)
        move.addFile(level: 2, file(1, "a", "c"))
        var b5 = builder
        try b5.apply(move)
        #expect(try b5.build().files[2].map(\.number) == [1])
    }

    // MARK: VersionSet and the MANIFEST

    private func makeSet(_ dir: ManifestTempDir) -> VersionSet {
        VersionSet(directory: dir.path, fileSystem: dir.fs, options: Options())
    }

    /// Applies a few flush- and compaction-like edits, including a second family.
    private func populate(_ vs: VersionSet) throws {
        var e1 = VersionEdit()
        e1.logNumber = vs.newFileNumber()
        e1.addFile(level: 0, file(vs.newFileNumber(), "a", "f"))
        vs.lastSequence = 100
        try vs.logAndApply(e1)

        var e2 = VersionEdit()
        e2.addFile(level: 0, file(vs.newFileNumber(), "c", "z"))
        vs.lastSequence = 250
        try vs.logAndApply(e2)

        var add = VersionEdit()
        add.columnFamily = vs.maxColumnFamily + 1
        add.addColumnFamily = "messages"
        add.logNumber = 3
        try vs.logAndApply(add)

        let l0 = vs.current().files[0]
        var compact = VersionEdit()
        for f in l0 { compact.deleteFile(level: 0, number: f.number) }
        compact.addFile(level: 1, file(vs.newFileNumber(), "a", "m"))
        compact.addFile(level: 1, file(vs.newFileNumber(), "n", "z"))
        try vs.logAndApply(compact)

        var cfFlush = VersionEdit()
        cfFlush.columnFamily = 1
        cfFlush.logNumber = 7
        cfFlush.addFile(level: 0, file(vs.newFileNumber(), "k", "q"))
        try vs.logAndApply(cfFlush)
        vs.lastSequence = 300
    }

    @Test func createApplyRecover() throws {
        let dir = try ManifestTempDir()
        let vs = makeSet(dir)
        try vs.create()
        #expect(dir.fs.fileExists(at: DBPaths.current(dir.path)))
        #expect(vs.manifestFileNumber == 1)
        try populate(vs)
        #expect(vs.manifestFileNumber > 1)
        #expect(!dir.fs.fileExists(at: DBPaths.manifest(dir.path, 1)))
        let before = SetState(vs)
        #expect(before.families == [0, 1])
        #expect(before.names == ["default", "messages"])
        #expect(vs.current().files[1].count == 2)
        #expect(vs.current(1).files[0].count == 1)
        #expect(vs.minLogNumber == 2)
        #expect(vs.liveFileNumbers().count == 3)
        let next = vs.nextFileNumber
        // The last lastSequence (300) was set after the last edit: not recorded.
        vs.close()

        let recovered = makeSet(dir)
        try recovered.recover()
        var expected = before
        expected.lastSequence = 250
        #expect(SetState(recovered) == expected)
        #expect(recovered.manifestFileNumber == vs.manifestFileNumber)
        #expect(recovered.nextFileNumber >= next)
        #expect(recovered.current().files[1] == vs.current().files[1])
        #expect(recovered.current(1).files[0] == vs.current(1).files[0])
        #expect(recovered.maxColumnFamily == 1)
        #expect(recovered.liveFileNumbers() == vs.liveFileNumbers())
    }

    @Test func recoverApplyRecoverRollsManifest() throws {
        let dir = try ManifestTempDir()
        let vs = makeSet(dir)
        try vs.create()
        try populate(vs)
        vs.close()

        let second = makeSet(dir)
        try second.recover()
        let firstManifest = second.manifestFileNumber
        var drop = VersionEdit()
        drop.columnFamily = 1
        drop.dropColumnFamily = true
        try second.logAndApply(drop)
        var flush = VersionEdit()
        flush.addFile(level: 0, file(second.newFileNumber(), "b", "c"))
        second.lastSequence = 999
        try second.logAndApply(flush)
        #expect(second.manifestFileNumber != firstManifest)
        #expect(!dir.fs.fileExists(at: DBPaths.manifest(dir.path, firstManifest)))
        let state = SetState(second)
        second.close()

        let third = makeSet(dir)
        try third.recover()
        #expect(SetState(third) == state)
        #expect(third.columnFamilies.map(\.name) == ["default"])
        #expect(third.maxColumnFamily == 1)
        let entries = try dir.fs.listDirectory(at: dir.path)
        #expect(entries.filter { $0.hasPrefix("MANIFEST-") }.count == 1)
        #expect(!entries.contains { $0.hasSuffix(".dbtmp") })
    }

    @Test func currentMissingOrBad() throws {
        let dir = try ManifestTempDir()
        let e1 = #expect(throws: StrataError.self) { try makeSet(dir).recover() }
        #expect(e1?.kind == .corruption)
        #expect(e1?.message.contains("CURRENT") == true)

        let vs = makeSet(dir)
        try vs.create()
        #expect(throws: StrataError.self) { try makeSet(dir).create() }
        try dir.write(DBPaths.current(dir.path), Array("MANIFEST-000042\n".utf8))
        let e2 = #expect(throws: StrataError.self) { try makeSet(dir).recover() }
        #expect(e2?.kind == .corruption)
        #expect(e2?.message.contains("MANIFEST-000042") == true)

        for junk in ["", "MANIFEST-000001", "garbage\n", "MANIFEST-x\n"] {
            try dir.write(DBPaths.current(dir.path), Array(junk.utf8))
            let e = #expect(throws: StrataError.self) { try makeSet(dir).recover() }
            #expect(e?.kind == .corruption)
        }
        try dir.write(DBPaths.current(dir.path), Array("MANIFEST-000001\n".utf8))
        try makeSet(dir).recover()
    }

    /// Offsets of the records of a log file.
    private func recordOffsets(_ path: String, _ dir: ManifestTempDir) throws -> [(start: UInt64, end: UInt64)] {
        let f = try dir.fs.openForReading(at: path)
        defer { f.close() }
        let reader = LogReader(file: f, path: path, mode: .absoluteConsistency)
        var result: [(UInt64, UInt64)] = []
        while try reader.next() != nil { result.append((reader.lastRecordOffset, reader.lastGoodOffset)) }
        return result
    }

    @Test func corruptManifestMiddleIsAnError() throws {
        let dir = try ManifestTempDir()
        let vs = makeSet(dir)
        try vs.create()
        try populate(vs)
        vs.close()
        let path = DBPaths.manifest(dir.path, vs.manifestFileNumber)
        let records = try recordOffsets(path, dir)
        #expect(records.count >= 5)
        let bytes = try dir.read(path)
        let middle = records[records.count / 2]
        var damaged = bytes
        damaged[Int(middle.start) + 9] ^= 0x20
        try dir.write(path, damaged)
        let e = #expect(throws: StrataError.self) { try makeSet(dir).recover() }
        #expect(e?.kind == .corruption)
        #expect(e?.message.contains(DBPaths.manifestName(vs.manifestFileNumber)) == true)

        // An empty manifest is not an empty database.
        try dir.write(path, [])
        #expect(throws: StrataError.self) { try makeSet(dir).recover() }
    }

    @Test func tornLastRecordRecoversEarlierState() throws {
        let dir = try ManifestTempDir()
        let vs = makeSet(dir)
        try vs.create()
        try populate(vs)
        let beforeLast = SetState(vs)
        var last = VersionEdit()
        last.addFile(level: 0, file(vs.newFileNumber(), "q", "r"))
        vs.lastSequence = 400
        try vs.logAndApply(last)
        vs.close()
        let path = DBPaths.manifest(dir.path, vs.manifestFileNumber)
        let records = try recordOffsets(path, dir)
        let bytes = try dir.read(path)
        let tail = records[records.count - 1]
        #expect(tail.end == UInt64(bytes.count))
        for cut in [Int(tail.start) + 3, Int(tail.start) + 10, bytes.count - 1] {
            try dir.write(path, Array(bytes[0..<cut]))
            let recovered = makeSet(dir)
            try recovered.recover()
            var expected = beforeLast
            expected.lastSequence = 250
            #expect(SetState(recovered) == expected, "cut \(cut)")
            // The next edit goes to a new manifest, never after the torn tail.
            var e = VersionEdit()
            e.addFile(level: 0, file(recovered.newFileNumber(), "s", "t"))
            try recovered.logAndApply(e)
            #expect(recovered.manifestFileNumber != vs.manifestFileNumber)
            let state = SetState(recovered)
            recovered.close()
            let again = makeSet(dir)
            try again.recover()
            #expect(SetState(again) == state)
            // Restore the torn manifest as CURRENT for the next cut.
            try dir.write(DBPaths.current(dir.path), Array((DBPaths.manifestName(vs.manifestFileNumber) + "\n").utf8))
        }
    }

    @Test func invalidEditIsRejectedAndNotWritten() throws {
        let dir = try ManifestTempDir()
        let vs = makeSet(dir)
        try vs.create()
        try populate(vs)
        let state = SetState(vs)
        var bad = VersionEdit()
        bad.deleteFile(level: 3, number: 12345)
        let e = #expect(throws: StrataError.self) { try vs.logAndApply(bad) }
        #expect(e?.kind == .invalidArgument)
        var unknownFamily = VersionEdit()
        unknownFamily.columnFamily = 9
        unknownFamily.addFile(level: 0, file(vs.newFileNumber(), "a", "b"))
        #expect(throws: StrataError.self) { try vs.logAndApply(unknownFamily) }
        var dropDefault = VersionEdit()
        dropDefault.dropColumnFamily = true
        #expect(throws: StrataError.self) { try vs.logAndApply(dropDefault) }
        #expect(SetState(vs) == state)
        vs.close()
        let recovered = makeSet(dir)
        try recovered.recover()
        var expected = state
        expected.lastSequence = 250
        #expect(SetState(recovered) == expected)
    }

    @Test func newerManifestFormatIsReported() throws {
        let dir = try ManifestTempDir()
        let vs = makeSet(dir)
        try vs.create()
        vs.close()
        let path = DBPaths.manifest(dir.path, 1)
        let f = try dir.fs.createFile(at: path)
        let writer = LogWriter(file: f)
        try writer.addRecord(framed([1, UInt8(VersionEdit.formatVersion + 1), 2, 3] + Array("new".utf8)))
        try writer.close()
        let e = #expect(throws: StrataError.self) { try makeSet(dir).recover() }
        #expect(e?.kind == .invalidArgument)
        #expect(e?.message.contains("newer version") == true)
    }

    @Test func concurrentReadersSeeWholeVersions() async throws {
        let dir = try ManifestTempDir()
        let vs = makeSet(dir)
        try vs.create()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<3 {
                group.addTask {
                    for _ in 0..<2000 {
                        let v = vs.current()
                        // Every installed version has level 0 sorted newest first.
                        let numbers = v.files[0].map(\.number)
                        #expect(numbers == numbers.sorted(by: >))
                        _ = vs.liveFileNumbers()
                        _ = vs.lastSequence
                    }
                }
            }
            for i in 0..<20 {
                var e = VersionEdit()
                e.addFile(level: 0, file(vs.newFileNumber(), "a", "b"))
                vs.lastSequence = UInt64(i)
                try vs.logAndApply(e)
            }
            try await group.waitForAll()
        }
        #expect(vs.current().files[0].count == 20)
        vs.close()
    }
}
