import Testing
@testable import Strata

/// The fault-injecting file system itself: power loss, torn writes, fault
/// rules. The engine's behaviour on it is in CrashScenarioTests.
@Suite(.offCooperativePool) struct FaultInjectionTests {
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
}
