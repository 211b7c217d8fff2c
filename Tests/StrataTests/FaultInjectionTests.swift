import Testing
@testable import Strata

/// The fault-injecting file system itself, and the engine's behaviour on it:
/// power loss, torn writes, I/O errors and full disks.
@Suite struct FaultInjectionTests {
    static func write(_ fs: any FileSystem, _ path: String, _ bytes: [UInt8], sync: Bool) throws {
        let f = try fs.createFile(at: path)
        try f.append(bytes)
        if sync { try f.sync() }
        try f.close()
    }

    static func read(_ fs: any FileSystem, _ path: String) throws -> [UInt8] {
        try fs.openForReading(at: path).readAll(path: path)
    }

    @Test func powerLossDropsUnsyncedBytesAndEntries() throws {
        let fs = FaultInjectionFileSystem()
        try fs.createDirectory(at: "/d")
        try Self.write(fs, "/d/synced", [1, 2, 3], sync: true)
        try fs.syncDirectory(at: "/d")
        let f = try fs.openForAppend(at: "/d/synced")
        try f.append([4, 5])          // never synced
        try f.flush()
        try Self.write(fs, "/d/new", [9], sync: true)  // file synced, directory not
        try fs.simulatePowerLoss()
        #expect(try Self.read(fs, "/d/synced") == [1, 2, 3])
        #expect(!fs.fileExists(at: "/d/new"))
    }

    @Test func tornWritesKeepAPrefix() throws {
        for seed in 1...20 as ClosedRange<UInt64> {
            let fs = FaultInjectionFileSystem(seed: seed)
            try fs.createDirectory(at: "/d")
            try Self.write(fs, "/d/f", [0, 1], sync: true)
            try fs.syncDirectory(at: "/d")
            let f = try fs.openForAppend(at: "/d/f")
            try f.append([2, 3, 4, 5, 6, 7])
            try fs.simulatePowerLoss(tornWrites: true)
            let got = try Self.read(fs, "/d/f")
            #expect(got.count >= 2 && got == Array([0, 1, 2, 3, 4, 5, 6, 7].prefix(got.count)))
        }
    }

    @Test func renameWithoutDirectorySyncIsUndone() throws {
        let fs = FaultInjectionFileSystem()
        try fs.createDirectory(at: "/d")
        try Self.write(fs, "/d/CURRENT", utf8("old"), sync: true)
        try Self.write(fs, "/d/tmp", utf8("new"), sync: true)
        try fs.syncDirectory(at: "/d")
        try fs.rename("/d/tmp", to: "/d/CURRENT")
        #expect(try Self.read(fs, "/d/CURRENT") == utf8("new"))
        try fs.simulatePowerLoss()
        #expect(try Self.read(fs, "/d/CURRENT") == utf8("old"))
        #expect(try Self.read(fs, "/d/tmp") == utf8("new"))

        try fs.rename("/d/tmp", to: "/d/CURRENT")
        try fs.syncDirectory(at: "/d")
        try fs.simulatePowerLoss()
        #expect(try Self.read(fs, "/d/CURRENT") == utf8("new"))
        #expect(!fs.fileExists(at: "/d/tmp"))
    }

    @Test func rulesFireOnTheNthCallAndByPath() throws {
        let fs = FaultInjectionFileSystem()
        try fs.createDirectory(at: "/d")
        fs.inject(FaultRule([.sync], trigger: .onCall(2), pathContains: ".log"))
        let f = try fs.createFile(at: "/d/1.log")
        try f.append([1])
        try f.sync()
        #expect(throws: StrataError.self) { try f.sync() }
        try f.sync()
        let g = try fs.createFile(at: "/d/1.sst")
        try g.sync()
        #expect(fs.injectedFaultCount == 1)
        fs.inject(FaultRule([.write], failure: .shortWrite))
        #expect(throws: StrataError.self) { try g.append([1, 2, 3, 4]) }
        fs.clearFaults()
        #expect(try fs.fileSize(at: "/d/1.sst") == 2)
    }

    @Test func crashedFileSystemRefusesOldHandles() throws {
        let fs = FaultInjectionFileSystem()
        try fs.createDirectory(at: "/d")
        let f = try fs.createFile(at: "/d/x")
        fs.crash()
        #expect(throws: StrataError.self) { try f.append([1]) }
        fs.restartAfterProcessCrash()
        #expect(throws: StrataError.self) { try f.append([1]) }  // the old process's handle stays dead
        let g = try fs.openForAppend(at: "/d/x")
        try g.append([1])
    }

    // MARK: the engine on it

    func options(_ fs: FaultInjectionFileSystem, bufferSize: Int = 16 << 10) -> Options {
        var o = Options()
        o.fileSystem = fs
        o.writeBufferSize = bufferSize
        o.logger.logLevel = .critical
        return o
    }

    /// Power loss at random points: every write acknowledged with
    /// `.syncDurable` survives, and what survives is a prefix of the writes.
    @Test(arguments: 0..<4)
    func powerLossKeepsSyncedWritesAndAPrefix(batchOfSeeds: Int) throws {
        for cycle in 0..<50 {
            let seed = UInt64(batchOfSeeds * 1000 + cycle)
            var rng = SeededRandom(seed: seed)
            let fs = FaultInjectionFileSystem(seed: seed &+ 1)
            let o = options(fs, bufferSize: 4 << 10 + Int(rng.next() % (16 << 10)))
            var db: Database? = try Database.open(at: "/db", options: o)
            var lastSynced = -1
            var acknowledged = -1
            let crashAt = Int(rng.next() % 300)
            for i in 0..<300 {
                if i == crashAt { break }
                let sync = rng.next() % 4 == 0
                let mode: CommitMode = sync ? .syncDurable : .asyncDurable(groupWindow: .seconds(3600))
                try db!.put(utf8("k\(i)"), utf8("value-\(i)"), options: WriteOptions(commitMode: mode))
                acknowledged = i
                if sync { lastSynced = i }
            }
            fs.crash()
            try? db!.close()
            db = nil
            try fs.simulatePowerLoss(tornWrites: rng.next() % 2 == 0)
            let reopened = try Database.open(at: "/db", options: o)
            var present: [Bool] = []
            for i in 0...max(acknowledged, 0) {
                let v = try reopened.get(utf8("k\(i)"))
                #expect(v == nil || v == utf8("value-\(i)"), "seed \(seed): wrong value")
                present.append(v != nil)
            }
            if lastSynced >= 0 {
                #expect(!present[0...lastSynced].contains(false), "seed \(seed): a synced write was lost")
            }
            if let firstMissing = present.firstIndex(of: false) {
                #expect(!present[firstMissing...].contains(true), "seed \(seed): hole in recovered writes")
            }
            try reopened.close()
        }
    }

    @Test func failedFsyncMakesTheDatabaseReadOnly() throws {
        let fs = FaultInjectionFileSystem()
        let o = options(fs)
        let db = try Database.open(at: "/db", options: o)
        try db.put(utf8("a"), utf8("1"), options: WriteOptions(commitMode: .syncDurable))
        fs.inject(FaultRule([.sync], trigger: .onCall(1), pathContains: ".log"))
        #expect { try db.put(utf8("b"), utf8("2"), options: WriteOptions(commitMode: .syncDurable)) } throws: {
            ($0 as? StrataError)?.kind == .ioError
        }
        // Not retried as if it had worked: everything after fails too.
        #expect { try db.put(utf8("c"), utf8("3"), options: WriteOptions(commitMode: .syncDurable)) } throws: {
            ($0 as? StrataError)?.kind == .readOnly
        }
        #expect(db.property("strata.background-error")?.isEmpty == false)
        #expect(try db.get(utf8("a")) == utf8("1"))  // reads keep working
        try? db.close()
        fs.clearFaults()
        let again = try Database.open(at: "/db", options: o)
        #expect(try again.get(utf8("a")) == utf8("1"))
        #expect(try again.get(utf8("c")) == nil)
        try again.put(utf8("d"), utf8("4"))
        try again.close()
    }

    @Test func fullDiskDuringFlushStopsWritesAndLosesNothing() throws {
        let fs = FaultInjectionFileSystem()
        let o = options(fs)
        let db = try Database.open(at: "/db", options: o)
        for i in 0..<100 { try db.put(utf8("k\(i)"), utf8("v\(i)"), options: WriteOptions(commitMode: .syncDurable)) }
        fs.inject(FaultRule([.write], failure: .noSpace, pathContains: ".sst"))
        #expect { try db.flush() } throws: { ($0 as? StrataError)?.kind == .readOnly }
        #expect { try db.put(utf8("x"), utf8("y")) } throws: { ($0 as? StrataError)?.kind == .readOnly }
        try? db.close()
        fs.clearFaults()
        let again = try Database.open(at: "/db", options: o)
        for i in 0..<100 { #expect(try again.get(utf8("k\(i)")) == utf8("v\(i)")) }
        try again.close()
    }

    /// A crash while recovering (at every operation of the open) followed by
    /// a power loss still reopens to the same data.
    @Test func crashDuringRecoveryItself() throws {
        let fs = FaultInjectionFileSystem()
        let o = options(fs, bufferSize: 2 << 10)
        do {
            let db = try Database.open(at: "/db", options: o)
            for i in 0..<200 { try db.put(utf8("k\(i)"), utf8("v\(i)"), options: WriteOptions(commitMode: .syncDurable)) }
            fs.crash()
            try? db.close()
            try fs.simulatePowerLoss()
        }
        for n in 1...40 {
            fs.inject(FaultRule(Set(FileOperation.allCases), trigger: .fromCall(n)))
            if let db = try? Database.open(at: "/db", options: o) {
                fs.crash()
                try? db.close()
            }
            fs.clearFaults()
            try fs.simulatePowerLoss(tornWrites: n % 2 == 0)
            let db = try Database.open(at: "/db", options: o)
            for i in stride(from: 0, to: 200, by: 13) { #expect(try db.get(utf8("k\(i)")) == utf8("v\(i)"), "crash at op \(n)") }
            try db.close()
        }
    }
}
