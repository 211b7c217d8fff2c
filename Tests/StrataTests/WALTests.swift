import Foundation
import Testing
@testable import Strata

/// A temporary directory removed when the test ends.
private final class WALTempDir {
    let path: String
    let fs = POSIXFileSystem()
    init() throws {
        path = FileManager.default.temporaryDirectory.path + "/strata-tests-" + UUID().uuidString
        try fs.createDirectory(at: path)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
    func file(_ name: String) -> String { path + "/" + name }
}

/// Bytes held in memory behind the `ReadableFile` protocol, so the mutation
/// loops do not create thousands of files.
private final class MemoryReadableFile: ReadableFile {
    let bytes: [UInt8]
    init(_ bytes: [UInt8]) { self.bytes = bytes }
    var size: UInt64 { UInt64(bytes.count) }
    func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard offset < size else { return 0 }
        let n = min(buffer.count, bytes.count - Int(offset))
        bytes.withUnsafeBytes { src in
            buffer.baseAddress!.copyMemory(from: src.baseAddress! + Int(offset), byteCount: n)
        }
        return n
    }
    func close() {}
}

/// A distinct, recognisable payload for record `index`.
private func payload(_ index: Int, size: Int) -> [UInt8] {
    var rng = UInt64(index &* 0x9E37_79B9 &+ 12345)
    return (0..<size).map { _ in
        rng = rng &* 6364136223846793005 &+ 1442695040888963407
        return UInt8(truncatingIfNeeded: rng >> 33)
    }
}

private let allModes: [WALRecoveryMode] = [.absoluteConsistency, .tolerateCorruptedTail, .pointInTime, .skipAnyCorruptedRecord]

/// Writes `records` to a fresh log file and returns the file's bytes and the end offset of each record.
private func writeLog(_ records: [[UInt8]], in dir: WALTempDir, name: String = "000001.log") throws -> (bytes: [UInt8], ends: [UInt64]) {
    let path = dir.file(name)
    let writer = LogWriter(file: try dir.fs.createFile(at: path))
    var ends: [UInt64] = []
    for r in records {
        try writer.addRecord(r)
        ends.append(writer.fileSize)
    }
    try writer.sync()
    try writer.close()
    let reader = try dir.fs.openForReading(at: path)
    defer { reader.close() }
    return (try reader.readAll(path: path), ends)
}

private struct ReadResult: CustomStringConvertible {
    var records: [[UInt8]] = []
    var error: StrataError?
    var stoppedAtDamage = false
    var reports: [String] = []
    var lastGoodOffset: UInt64 = 0
    // Failure messages would otherwise print every payload byte.
    var description: String {
        "records sizes \(records.map(\.count)), error \(error.map(String.init(describing:)) ?? "none"), "
            + "stopped \(stoppedAtDamage), reports \(reports), lastGood \(lastGoodOffset)"
    }
}

private func readAll(_ file: any ReadableFile, mode: WALRecoveryMode, path: String = "test.log") -> ReadResult {
    let reader = LogReader(file: file, path: path, mode: mode)
    var result = ReadResult()
    do {
        while let r = try reader.next() { result.records.append(r) }
    } catch let e as StrataError {
        result.error = e
    } catch {
        Issue.record("unexpected error type \(error)")
    }
    result.stoppedAtDamage = reader.stoppedAtDamage
    result.reports = reader.damageReports
    result.lastGoodOffset = reader.lastGoodOffset
    return result
}

private func readBytes(_ bytes: [UInt8], mode: WALRecoveryMode) -> ReadResult {
    readAll(MemoryReadableFile(bytes), mode: mode)
}

/// Whether `got` equals `written` with some records left out (order kept).
private func isSubsequence(_ got: [[UInt8]], of written: [[UInt8]]) -> Bool {
    var i = 0
    for r in got {
        while i < written.count && written[i] != r { i += 1 }
        if i == written.count { return false }
        i += 1
    }
    return true
}

@Suite(.offCooperativePool) struct WALTests {
    static let block = LogFormat.blockSize
    static let header = LogFormat.headerSize

    @Test func roundTripBoundarySizes() throws {
        let dir = try WALTempDir()
        let sizes = [0, 1, Self.block - Self.header, Self.block - Self.header - 6, 0,
                     Self.block - 2 * Self.header, 10, 3 * Self.block + 17, 100 * 1024, 0, 1,
                     Self.block - Self.header - 7, 0, 5]
            + (0..<200).map { ($0 * 7919) % 3000 }
        let records = sizes.enumerated().map { payload($0.offset, size: $0.element) }
        let (bytes, ends) = try writeLog(records, in: dir)
        #expect(UInt64(bytes.count) == ends.last)
        let path = dir.file("000001.log")
        for mode in allModes {
            let file = try dir.fs.openForReading(at: path)
            let result = readAll(file, mode: mode, path: path)
            file.close()
            #expect(result.error == nil)
            #expect(result.records == records)
            #expect(!result.stoppedAtDamage)
            #expect(result.reports.isEmpty)
            #expect(result.lastGoodOffset == UInt64(bytes.count))
        }
    }

    @Test func blockTailPaddingIsZeroFilled() throws {
        let dir = try WALTempDir()
        // Leaves 6 bytes in the first block: too few for a header.
        let records = [payload(1, size: Self.block - Self.header - 6), payload(2, size: 3)]
        let (bytes, _) = try writeLog(records, in: dir)
        #expect(bytes.count == Self.block + Self.header + 3)
        #expect(bytes[(Self.block - 6)..<Self.block].allSatisfy { $0 == 0 })
        #expect(bytes[Self.block + 6] == LogFormat.FragmentType.full.rawValue)
    }

    @Test func appendWithNewWriter() throws {
        let dir = try WALTempDir()
        let path = dir.file("000002.log")
        let first = (0..<5).map { payload($0, size: 9000) }
        let second = (5..<10).map { payload($0, size: 9000) }
        var w = LogWriter(file: try dir.fs.createFile(at: path))
        for r in first { try w.addRecord(r) }
        try w.close()
        w = LogWriter(file: try dir.fs.openForAppend(at: path))
        #expect(w.fileSize == (try dir.fs.fileSize(at: path)))
        for r in second { try r.withUnsafeBytes { try w.addRecord($0) } }
        try w.flush()
        try w.close()
        let file = try dir.fs.openForReading(at: path)
        defer { file.close() }
        let result = readAll(file, mode: .absoluteConsistency)
        #expect(result.error == nil)
        #expect(result.records == first + second)
    }

    @Test func truncatedTailAtManyCutPoints() throws {
        let dir = try WALTempDir()
        let sizes = [100, 0, 40000, 5, Self.block - 2 * Self.header - 100, 7, 20000, 1, 300]
        let records = sizes.enumerated().map { payload($0.offset, size: $0.element) }
        let (bytes, ends) = try writeLog(records, in: dir)
        var cuts = Set<Int>()
        for e in [0] + ends.map({ Int($0) }) + stride(from: 0, to: bytes.count, by: Self.block).map({ $0 }) {
            for d in [-8, -7, -6, -3, -1, 0, 1, 3, 6, 7, 8] where e + d >= 0 && e + d < bytes.count { cuts.insert(e + d) }
        }
        for c in stride(from: 0, to: bytes.count, by: 1009) { cuts.insert(c) }
        for cut in cuts.sorted() {
            let prefix = Array(bytes[0..<cut])
            let complete = ends.filter { $0 <= UInt64(cut) }.count
            let lastEnd = complete == 0 ? 0 : Int(ends[complete - 1])
            // Clean when only padding (or nothing) lies between the last record and the cut.
            let blockRemainder = Self.block - lastEnd % Self.block
            let clean = cut == lastEnd || (blockRemainder < Self.header && cut - lastEnd <= blockRemainder)
            let expected = Array(records[0..<complete])
            for mode in allModes {
                let r = readBytes(prefix, mode: mode)
                if mode == .absoluteConsistency && !clean {
                    #expect(r.error?.kind == .corruption, "cut \(cut)")
                    #expect(r.error?.message.contains("test.log: offset") == true)
                    continue
                }
                #expect(r.error == nil, "cut \(cut) mode \(mode)")
                #expect(r.records == expected, "cut \(cut) mode \(mode)")
                #expect(r.stoppedAtDamage == (!clean && mode != .skipAnyCorruptedRecord), "cut \(cut) mode \(mode)")
                #expect(r.reports.isEmpty == clean, "cut \(cut) mode \(mode)")
                #expect(r.lastGoodOffset == UInt64(lastEnd))
            }
        }
    }

    @Test func bitFlipInMiddleRecord() throws {
        let dir = try WALTempDir()
        let records = (0..<5).map { payload($0, size: 20000) }
        let (bytes, ends) = try writeLog(records, in: dir)
        var damaged = bytes
        damaged[Int(ends[1]) + 5000] ^= 0x10
        #expect(readBytes(damaged, mode: .absoluteConsistency).error?.kind == .corruption)
        let tolerate = readBytes(damaged, mode: .tolerateCorruptedTail)
        #expect(tolerate.error?.kind == .corruption)
        #expect(tolerate.error?.message.contains("offset") == true)
        let pit = readBytes(damaged, mode: .pointInTime)
        #expect(pit.error == nil)
        #expect(pit.records == Array(records[0..<2]))
        #expect(pit.stoppedAtDamage)
        #expect(pit.reports.count == 1)
        let skip = readBytes(damaged, mode: .skipAnyCorruptedRecord)
        #expect(skip.error == nil)
        #expect(!skip.stoppedAtDamage)
        #expect(!skip.reports.isEmpty)
        #expect(isSubsequence(skip.records, of: records))
        #expect(Array(skip.records.prefix(2)) == Array(records[0..<2]))
        #expect(!skip.records.contains(records[2]))
        #expect(skip.records.last == records[4])
    }

    @Test func skipResynchronizesAfterDamagedSmallRecord() throws {
        let dir = try WALTempDir()
        // Records 0..9 in block 0, 10..19 start in later blocks.
        let records = (0..<10).map { payload($0, size: 100) } + (10..<20).map { payload($0, size: 9000) }
        let (bytes, ends) = try writeLog(records, in: dir)
        var damaged = bytes
        damaged[Int(ends[3]) + 50] ^= 0x01
        let skip = readBytes(damaged, mode: .skipAnyCorruptedRecord)
        #expect(skip.error == nil)
        #expect(isSubsequence(skip.records, of: records))
        #expect(Array(skip.records.prefix(4)) == Array(records[0..<4]))
        #expect(!skip.records.contains(records[4]))
        // Every record that starts in a later block than the damage survives.
        for i in 0..<records.count where (i == 0 ? 0 : Int(ends[i - 1])) / Self.block > Int(ends[3]) / Self.block {
            #expect(skip.records.contains(records[i]), "record \(i)")
        }
    }

    @Test func bitFlipInLastRecord() throws {
        let dir = try WALTempDir()
        let records = (0..<4).map { payload($0, size: 20000) } + [payload(4, size: 500)]
        let (bytes, ends) = try writeLog(records, in: dir)
        var damaged = bytes
        damaged[Int(ends[3]) + 200] ^= 0x80
        #expect(readBytes(damaged, mode: .absoluteConsistency).error?.kind == .corruption)
        for mode in [WALRecoveryMode.tolerateCorruptedTail, .pointInTime, .skipAnyCorruptedRecord] {
            let r = readBytes(damaged, mode: mode)
            #expect(r.error == nil, "\(mode)")
            #expect(r.records == Array(records[0..<4]), "\(mode)")
            #expect(r.reports.count == 1, "\(mode)")
            #expect(r.reports.first?.contains("offset \(ends[3])") == true, "\(mode)")
            #expect(r.lastGoodOffset == ends[3])
        }
    }

    @Test func damageInFirstFragmentOfSpanningLastRecordIsNotATail() throws {
        let dir = try WALTempDir()
        let records = [payload(0, size: 100), payload(1, size: 3 * Self.block)]
        let (bytes, ends) = try writeLog(records, in: dir)
        var damaged = bytes
        damaged[Int(ends[0]) + 20] ^= 0x04
        // The record's later fragments are valid, so the damage is not at the tail.
        #expect(readBytes(damaged, mode: .tolerateCorruptedTail).error?.kind == .corruption)
        let pit = readBytes(damaged, mode: .pointInTime)
        #expect(pit.records == [records[0]])
        #expect(pit.stoppedAtDamage)
        let skip = readBytes(damaged, mode: .skipAnyCorruptedRecord)
        #expect(skip.records == [records[0]])
        #expect(skip.reports.count == 1)
    }

    @Test func garbageAppended() throws {
        let dir = try WALTempDir()
        let records = (0..<6).map { payload($0, size: 3000 * $0) }
        let (bytes, _) = try writeLog(records, in: dir)
        for garbageSize in [1, 6, 7, 100, 40000] {
            let garbage = payload(99, size: garbageSize).map { $0 | 0x01 }
            let damaged = bytes + garbage
            #expect(readBytes(damaged, mode: .absoluteConsistency).error?.kind == .corruption)
            for mode in [WALRecoveryMode.tolerateCorruptedTail, .pointInTime, .skipAnyCorruptedRecord] {
                let r = readBytes(damaged, mode: mode)
                #expect(r.error == nil, "\(mode) \(garbageSize)")
                #expect(r.records == records, "\(mode) \(garbageSize)")
                #expect(!r.reports.isEmpty)
                #expect(r.stoppedAtDamage == (mode != .skipAnyCorruptedRecord))
                #expect(r.lastGoodOffset == UInt64(bytes.count))
            }
        }
    }

    @Test func zeroFilledTailIsTheEnd() throws {
        let dir = try WALTempDir()
        let records = (0..<6).map { payload($0, size: 3000 * $0 + 1) }
        let (bytes, _) = try writeLog(records, in: dir)
        for zeros in [3, 7, 1000, 2 * Self.block] {
            let padded = bytes + [UInt8](repeating: 0, count: zeros)
            for mode in allModes {
                let r = readBytes(padded, mode: mode)
                #expect(r.error == nil)
                #expect(r.records == records)
                #expect(!r.stoppedAtDamage)
                #expect(r.reports.isEmpty)
            }
        }
        // Zeroed space with valid records after it is damage.
        var holed = bytes
        let hole = Int(try #require(holed.indices.last)) - 30000
        for i in hole..<(hole + 2000) { holed[i] = 0 }
        #expect(readBytes(holed, mode: .absoluteConsistency).error?.kind == .corruption)
        #expect(readBytes(holed, mode: .tolerateCorruptedTail).error?.kind == .corruption)
        #expect(readBytes(holed, mode: .pointInTime).stoppedAtDamage)
    }

    @Test func outOfOrderFragments() throws {
        // A FIRST fragment with no LAST, followed by a FULL record.
        let dir = try WALTempDir()
        let records = [payload(0, size: 10), payload(1, size: 2 * Self.block), payload(2, size: 10)]
        let (bytes, ends) = try writeLog(records, in: dir)
        // Cut the spanning record's LAST fragment out by splicing: keep its
        // FIRST fragment (block 0), then the rest of the file from the third record.
        let firstBlock = Array(bytes[0..<Self.block])
        let third = Array(bytes[Int(ends[1])...])
        // Pad so the third record starts at a block boundary, as a writer would put it.
        let spliced = firstBlock + third
        #expect(readBytes(spliced, mode: .absoluteConsistency).error?.kind == .corruption)
        #expect(readBytes(spliced, mode: .tolerateCorruptedTail).error?.kind == .corruption)
        let pit = readBytes(spliced, mode: .pointInTime)
        #expect(pit.records == [records[0]])
        #expect(pit.stoppedAtDamage)
        let skip = readBytes(spliced, mode: .skipAnyCorruptedRecord)
        #expect(skip.records == [records[0], records[2]])
        #expect(skip.reports.count == 1)

        // A MIDDLE/LAST without FIRST: drop block 0 so the file starts mid-record.
        let orphan = Array(bytes[Self.block...])
        let skipOrphan = readBytes(orphan, mode: .skipAnyCorruptedRecord)
        #expect(skipOrphan.records == [records[2]])
        #expect(skipOrphan.reports.count == 1)
        #expect(readBytes(orphan, mode: .pointInTime).records.isEmpty)
    }

    @Test func everySingleByteFlipYieldsOnlyWrittenRecords() throws {
        let dir = try WALTempDir()
        let records = [payload(0, size: 5), payload(1, size: 0), payload(2, size: 30), payload(3, size: 1), payload(4, size: 60)]
        let (bytes, _) = try writeLog(records, in: dir)
        for i in bytes.indices {
            for mask: UInt8 in [0x01, 0x80, 0xFF] {
                var damaged = bytes
                damaged[i] ^= mask
                for mode in allModes {
                    let r = readBytes(damaged, mode: mode)
                    #expect(isSubsequence(r.records, of: records), "byte \(i) mode \(mode)")
                    switch mode {
                    case .absoluteConsistency:
                        #expect(r.error != nil, "byte \(i)")
                    case .pointInTime, .tolerateCorruptedTail:
                        #expect(r.records == Array(records.prefix(r.records.count)), "byte \(i) mode \(mode)")
                        #expect(r.error != nil || r.stoppedAtDamage, "byte \(i) mode \(mode)")
                    case .skipAnyCorruptedRecord:
                        #expect(r.error == nil)
                        #expect(!r.reports.isEmpty, "byte \(i)")
                    }
                }
            }
        }
    }

    @Test func headerFlipsInSpanningLog() throws {
        let dir = try WALTempDir()
        let records = [payload(0, size: 100), payload(1, size: 2 * Self.block + 50), payload(2, size: 40)]
        let (bytes, ends) = try writeLog(records, in: dir)
        // Every header byte of every fragment, plus a few payload bytes of each.
        var positions: [Int] = []
        let fragmentStarts = [0, Int(ends[0]), Self.block, 2 * Self.block, Int(ends[1])]
        for s in fragmentStarts { positions += (s..<(s + Self.header + 3)).filter { $0 < bytes.count } }
        for i in positions {
            var damaged = bytes
            damaged[i] ^= 0x41
            for mode in allModes {
                let r = readBytes(damaged, mode: mode)
                #expect(isSubsequence(r.records, of: records), "byte \(i) mode \(mode)")
                if mode == .absoluteConsistency { #expect(r.error != nil, "byte \(i)") }
                if mode == .pointInTime {
                    #expect(r.stoppedAtDamage, "byte \(i)")
                    #expect(r.records == Array(records.prefix(r.records.count)))
                }
            }
        }
    }

    @Test func writerRefusesAfterFailedAppend() throws {
        final class FailingFile: WritableFile, @unchecked Sendable {
            var size: UInt64 = 0
            var failNext = false
            func append(_ bytes: UnsafeRawBufferPointer) throws {
                if failNext { throw StrataError(.ioError, "disk full") }
                size += UInt64(bytes.count)
            }
            func flush() throws {}
            func sync() throws {}
            func close() throws {}
        }
        let file = FailingFile()
        let writer = LogWriter(file: file)
        try writer.addRecord([1, 2, 3])
        file.failNext = true
        #expect(throws: StrataError.self) { try writer.addRecord([4]) }
        file.failNext = false
        #expect(throws: StrataError.self) { try writer.addRecord([5]) }
    }
}
