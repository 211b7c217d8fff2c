import Foundation
import Testing
@testable import Strata

@Suite(.offCooperativePool) struct DatabaseTests {
    @Test func putGetDeleteRoundTrip() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let db = try Database.open(at: dir.path)
        try db.put(utf8("k"), utf8("v"))
        #expect(try db.get(utf8("k")) == utf8("v"))
        try db.put(utf8("k"), utf8("v2"))
        #expect(try db.get(utf8("k")) == utf8("v2"))
        try db.delete(utf8("k"))
        #expect(try db.get(utf8("k")) == nil)
        #expect(try db.get(utf8("missing")) == nil)
        try db.close()
    }

    @Test func emptyKeysAndValuesWork() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let db = try Database.open(at: dir.path)
        try db.put([], [])
        try db.put(utf8("a"), [])
        #expect(try db.get([]) == [])
        #expect(try db.get(utf8("a")) == [])
        try db.flush()
        #expect(try db.get([]) == [])
        try db.close()
        let again = try Database.open(at: dir.path)
        #expect(try again.get([]) == [])
        #expect(try again.get(utf8("a")) == [])
        let it = try again.makeIterator()
        it.seekToFirst()
        #expect(it.isValid && it.key == [])
        try again.close()
    }

    @Test func dataSurvivesReopenFromLogAndTables() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        var o = Options()
        o.writeBufferSize = 64 << 10
        do {
            let db = try Database.open(at: dir.path, options: o)
            for i in 0..<3000 {
                try db.put(utf8("key\(i)"), utf8("value\(i)"))
            }
            for i in stride(from: 0, to: 3000, by: 3) { try db.delete(utf8("key\(i)")) }
            try db.close()
        }
        let db = try Database.open(at: dir.path, options: o)
        #expect(Int(db.property("strata.num-files-at-level0") ?? "0")! > 1)
        for i in 0..<3000 {
            let v = try db.get(utf8("key\(i)"))
            #expect(v == (i % 3 == 0 ? nil : utf8("value\(i)")), "key\(i)")
        }
        try db.close()
    }

    @Test func unclosedDatabaseRecoversFromLog() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        // Simulate a crash: the process keeps the handle but we copy the
        // directory away while it is open, then open the copy.
        let db = try Database.open(at: dir.path)
        var b = WriteBatch()
        for i in 0..<100 { b.put(utf8("k\(i)"), utf8("v\(i)")) }
        try db.write(b, options: WriteOptions(commitMode: .syncDurable))
        let copy = TempDir("copy")
        defer { copy.cleanup() }
        try FileManager.default.copyItem(atPath: dir.path, toPath: copy.path)
        try? FileManager.default.removeItem(atPath: copy.path + "/LOCK")
        let recovered = try Database.open(at: copy.path)
        for i in 0..<100 { #expect(try recovered.get(utf8("k\(i)")) == utf8("v\(i)")) }
        try recovered.close()
        try db.close()
    }

    @Test func secondOpenIsBusy() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let db = try Database.open(at: dir.path)
        #expect {
            _ = try Database.open(at: dir.path)
        } throws: { ($0 as? StrataError)?.kind == .busy }
        try db.close()
        let again = try Database.open(at: dir.path)
        try again.close()
    }

    @Test func closedDatabaseRefusesCalls() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let db = try Database.open(at: dir.path)
        try db.close()
        try db.close()
        #expect { try db.put(utf8("a"), utf8("b")) } throws: { ($0 as? StrataError)?.kind == .closed }
        #expect { _ = try db.get(utf8("a")) } throws: { ($0 as? StrataError)?.kind == .closed }
    }

    @Test func oversizedArgumentsAreInvalid() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        var o = Options()
        o.maxKeySize = 100
        o.maxValueSize = 1000
        let db = try Database.open(at: dir.path, options: o)
        #expect { try db.put([UInt8](repeating: 1, count: 101), []) } throws: { ($0 as? StrataError)?.kind == .invalidArgument }
        #expect { try db.put([1], [UInt8](repeating: 1, count: 1001)) } throws: { ($0 as? StrataError)?.kind == .invalidArgument }
        // A rejected batch leaves nothing behind.
        var b = WriteBatch()
        b.put([2], [2])
        b.put([UInt8](repeating: 1, count: 101), [])
        #expect { try db.write(b) } throws: { ($0 as? StrataError)?.kind == .invalidArgument }
        #expect(try db.get([2]) == nil)
        try db.close()
    }

    @Test func openingForeignOrMissingDirectoryIsClear() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        try FileManager.default.createDirectory(atPath: dir.path, withIntermediateDirectories: true)
        try Data("hello".utf8).write(to: URL(fileURLWithPath: dir.file("notes.txt")))
        #expect { _ = try Database.open(at: dir.path) } throws: { ($0 as? StrataError)?.kind == .invalidArgument }

        var o = Options()
        o.createIfMissing = false
        let missing = TempDir("missing")
        #expect { _ = try Database.open(at: missing.path, options: o) } throws: { ($0 as? StrataError)?.kind == .notFound }

        let file = TempDir("file")
        defer { file.cleanup() }
        try Data("x".utf8).write(to: URL(fileURLWithPath: file.path))
        #expect { _ = try Database.open(at: file.path) } throws: { ($0 as? StrataError)?.kind == .invalidArgument }
    }

    @Test func errorIfExists() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        try Database.open(at: dir.path).close()
        var o = Options()
        o.errorIfExists = true
        #expect { _ = try Database.open(at: dir.path, options: o) } throws: { ($0 as? StrataError)?.kind == .invalidArgument }
    }

    @Test func missingCurrentWithFilesIsCorruption() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let db = try Database.open(at: dir.path)
        try db.put(utf8("a"), utf8("b"))
        try db.flush()
        try db.close()
        try FileManager.default.removeItem(atPath: dir.file("CURRENT"))
        #expect { _ = try Database.open(at: dir.path) } throws: { ($0 as? StrataError)?.kind == .corruption }
    }

    @Test func snapshotsSeeThePast() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let db = try Database.open(at: dir.path)
        try db.put(utf8("a"), utf8("1"))
        let s1 = db.snapshot()
        try db.put(utf8("a"), utf8("2"))
        try db.delete(utf8("a"))
        try db.put(utf8("b"), utf8("x"))
        #expect(try db.get(utf8("a"), options: ReadOptions(snapshot: s1)) == utf8("1"))
        #expect(try db.get(utf8("b"), options: ReadOptions(snapshot: s1)) == nil)
        try db.flush()
        #expect(try db.get(utf8("a"), options: ReadOptions(snapshot: s1)) == utf8("1"))
        #expect(try db.get(utf8("a")) == nil)
        let it = try db.makeIterator(options: ReadOptions(snapshot: s1))
        it.seekToFirst()
        #expect(it.isValid && it.key == utf8("a") && it.value == utf8("1"))
        it.next()
        #expect(!it.isValid)
        try db.close()
    }

    @Test func iteratorBoundsAndDirections() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let db = try Database.open(at: dir.path)
        for c in "abcdefgh" { try db.put(utf8(String(c)), utf8(String(c).uppercased())) }
        try db.delete(utf8("d"))
        let it = try db.makeIterator(options: ReadOptions(lowerBound: utf8("b"), upperBound: utf8("g")))
        var keys: [String] = []
        it.seekToFirst()
        while it.isValid { keys.append(String(decoding: it.key, as: UTF8.self)); it.next() }
        #expect(keys == ["b", "c", "e", "f"])
        keys = []
        it.seekToLast()
        while it.isValid { keys.append(String(decoding: it.key, as: UTF8.self)); it.prev() }
        #expect(keys == ["f", "e", "c", "b"])
        it.seek(utf8("d"))
        #expect(it.key == utf8("e"))
        it.prev()
        #expect(it.key == utf8("c"))
        it.seekForPrev(utf8("d"))
        #expect(it.key == utf8("c"))
        it.seekForPrev(utf8("z"))
        #expect(it.key == utf8("f"))
        it.seek(utf8("a"))
        #expect(it.key == utf8("b"))
        it.seekForPrev(utf8("a"))
        #expect(!it.isValid)
        try it.checkStatus()
        try db.close()
    }

    @Test func asyncWriteSuspendsAndCommits() async throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let db = try Database.open(at: dir.path)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for t in 0..<16 {
                group.addTask {
                    for i in 0..<50 {
                        var b = WriteBatch()
                        b.put(utf8("t\(t)-\(i)"), utf8("v"))
                        try await db.write(b, options: WriteOptions(commitMode: .syncDurable))
                    }
                }
            }
            try await group.waitForAll()
        }
        for t in 0..<16 { for i in 0..<50 { #expect(try db.get(utf8("t\(t)-\(i)")) == utf8("v")) } }
        try db.close()
    }

    @Test func memoryOnlyWritesSurviveCleanClose() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        var o = Options()
        o.commitMode = .memoryOnly
        let db = try Database.open(at: dir.path, options: o)
        try db.put(utf8("m"), utf8("1"))
        try db.close()
        let again = try Database.open(at: dir.path)
        #expect(try again.get(utf8("m")) == utf8("1"))
        try again.close()
    }

    @Test func propertiesAndStatistics() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let db = try Database.open(at: dir.path)
        for i in 0..<10 { try db.put(utf8("\(i)"), utf8("v")) }
        try db.flush()
        #expect(db.property("strata.num-files-at-level0") == "1")
        #expect(db.property("strata.estimate-num-keys") == "10")
        #expect(db.property("strata.stats")?.contains("L0") == true)
        #expect(db.property("no.such.property") == nil)
        #expect(db.statistics.writeBatches == 10)
        #expect(db.statistics.flushes == 1)
        try db.close()
    }
}
