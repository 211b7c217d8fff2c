import Foundation
import Testing
import StrataStress
@testable import Strata

/// Every crash and fault scenario of the reliability plan, one test each,
/// named after the scenario (Docs/reliability.md maps them). Run them all
/// with `swift test --filter CrashScenarioTests`.
@Suite(.offCooperativePool) struct CrashScenarioTests {
    static func options(_ fs: any FileSystem, bufferSize: Int = 16 << 10) -> Options {
        var o = Options()
        o.fileSystem = fs
        o.writeBufferSize = bufferSize
        o.logger.logLevel = .critical
        return o
    }

    static let synced = WriteOptions(commitMode: .syncDurable)

    // MARK: process kills

    /// Runs the black-box loop of `strata stress` from this test: a child
    /// process is killed with SIGKILL a few times mid-run; after each kill
    /// every acknowledged write must be there and no batch partly applied.
    static func killLoop(syncFraction: Double, seed: UInt64) throws {
        let executable = try #require(StrataExecutable.path, "the strata executable is not built next to the test bundle")
        let dir = TempDir("kill")
        defer { dir.cleanup() }
        var config = StressConfig()
        config.workers = 3
        config.keysPerWorker = 60
        config.syncFraction = syncFraction
        config.seed = seed
        let failure = BlackBoxStress(config: config, directory: dir.path, executable: executable)
            .run(cycles: 4, minRunMilliseconds: 150, maxRunMilliseconds: 400)
        #expect(failure == nil)
    }

    @Test("SIGKILL during synced batches", .enabled(if: StrataExecutable.path != nil, "the strata executable is not built"))
    func sigkillDuringSyncedBatches() throws {
        try Self.killLoop(syncFraction: 1, seed: TestSeed.fresh("sigkillDuringSyncedBatches"))
    }

    @Test("Process kill with async commit: nothing acknowledged is lost", .enabled(if: StrataExecutable.path != nil, "the strata executable is not built"))
    func processKillWithAsyncCommitLosesNothing() throws {
        try Self.killLoop(syncFraction: 0, seed: TestSeed.fresh("processKillWithAsyncCommitLosesNothing"))
    }

    // MARK: power loss

    /// Power loss at random points: every write acknowledged with
    /// `.syncDurable` survives, and what survives is a prefix of the writes.
    @Test("Power loss dropping unsynced bytes: a prefix, no holes", arguments: 0..<4)
    func powerLossDroppingUnsyncedBytes(batchOfSeeds: Int) throws {
        for cycle in 0..<50 {
            let seed = UInt64(batchOfSeeds * 1000 + cycle)
            var rng = SeededRandom(seed: seed)
            let fs = FaultInjectionFileSystem(seed: seed &+ 1)
            let o = Self.options(fs, bufferSize: 4 << 10 + Int(rng.next() % (16 << 10)))
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

    /// Synced writes across log switches and flushes (new logs, tables,
    /// MANIFESTs), then a power loss right after the k-th write: the
    /// entries of files created since the last directory fsync vanish, and
    /// every synced write must still be there. The same run over a file
    /// system that ignores directory fsyncs must lose some: that is what
    /// the engine's directory fsyncs are for, and it shows the scenario is
    /// really exercised.
    @Test("Power loss dropping directory entries")
    func powerLossDroppingDirectoryEntries() throws {
        func run(ignoringDirectorySync: Bool) throws -> Int {
            var lossy = 0
            for k in stride(from: 3, to: 160, by: 6) {
                let fs = FaultInjectionFileSystem(seed: UInt64(k))
                fs.skipsDirectorySyncs = ignoringDirectorySync
                let o = Self.options(fs, bufferSize: 4 << 10)
                let db = try Database.open(at: "/db", options: o)
                let value = [UInt8](repeating: 7, count: 200)
                for i in 0..<k { try db.put(utf8("k\(i)"), value, options: Self.synced) }
                fs.crash()
                try? db.close()
                try fs.simulatePowerLoss()
                guard let reopened = try? Database.open(at: "/db", options: o) else {
                    lossy += 1
                    continue
                }
                var lost = false
                for i in 0..<k where try reopened.get(utf8("k\(i)")) != value { lost = true }
                if lost { lossy += 1 }
                try reopened.close()
            }
            return lossy
        }
        #expect(try run(ignoringDirectorySync: false) == 0, "synced writes lost although the engine fsyncs directories")
        #expect(try run(ignoringDirectorySync: true) > 0, "without directory fsyncs nothing was lost: the test exercises nothing")
    }

    // MARK: damaged logs

    /// A database on the in-memory file system after `count` synced puts and
    /// a process crash, with the live log's path and each record's end offset.
    static func crashedWithLog(count: Int) throws -> (fs: FaultInjectionFileSystem, memory: InMemoryFileSystem, log: String, ends: [UInt64]) {
        let memory = InMemoryFileSystem()
        let fs = FaultInjectionFileSystem(base: memory)
        let db = try Database.open(at: "/db", options: Self.options(fs, bufferSize: 1 << 20))
        let log = try #require(try fs.listDirectory(at: "/db").filter { $0.hasSuffix(".log") }.max())
        var ends: [UInt64] = []
        for i in 0..<count {
            try db.put(utf8("k\(i)"), utf8("value-\(i)-" + String(repeating: "x", count: 3000)), options: Self.synced)
            ends.append(try fs.fileSize(at: "/db/" + log))
        }
        fs.crash()
        try? db.close()
        fs.restartAfterProcessCrash()
        return (fs, memory, "/db/" + log, ends)
    }

    static func present(_ db: Database, count: Int) throws -> [Bool] {
        try (0..<count).map { i in
            let v = try db.get(utf8("k\(i)"))
            #expect(v == nil || v == utf8("value-\(i)-" + String(repeating: "x", count: 3000)), "wrong value for k\(i)")
            return v != nil
        }
    }

    @Test("Torn WAL tail, per recovery mode", arguments: [WALRecoveryMode.absoluteConsistency, .tolerateCorruptedTail, .pointInTime, .skipAnyCorruptedRecord])
    func tornWALTail(mode: WALRecoveryMode) throws {
        for (cut, torn) in [(0.5, true), (1.0, false)] {
            let (fs, memory, log, ends) = try Self.crashedWithLog(count: 20)
            // Half-way into the last record (a torn append), or exactly at its end.
            let size = UInt64(Double(ends[19] - ends[18]) * cut) + ends[18]
            try memory.truncateFile(at: log, to: size)
            var o = Self.options(fs)
            o.walRecovery = mode
            if torn && mode == .absoluteConsistency {
                #expect { _ = try Database.open(at: "/db", options: o) } throws: { ($0 as? StrataError)?.kind == .corruption }
                continue
            }
            let db = try Database.open(at: "/db", options: o)
            #expect(try Self.present(db, count: 20) == Array(repeating: true, count: 19) + [!torn], "\(mode), cut \(cut)")
            try db.close()
        }
    }

    @Test("Bit flip mid-WAL, per recovery mode", arguments: [WALRecoveryMode.absoluteConsistency, .tolerateCorruptedTail, .pointInTime, .skipAnyCorruptedRecord])
    func bitFlipMidWAL(mode: WALRecoveryMode) throws {
        let (fs, memory, log, ends) = try Self.crashedWithLog(count: 20)
        var bytes = try fs.openForReading(at: log).readAll(path: log)
        bytes[Int(ends[2]) + 100] ^= 0x10  // inside record 3's payload
        try memory.removeFile(at: log)
        let f = try memory.createFile(at: log)
        try f.append(bytes)
        try f.close()
        var o = Self.options(fs)
        o.walRecovery = mode
        switch mode {
        case .absoluteConsistency, .tolerateCorruptedTail:
            // Damage before the end is never a torn tail: both refuse to open.
            #expect { _ = try Database.open(at: "/db", options: o) } throws: { ($0 as? StrataError)?.kind == .corruption }
        case .pointInTime:
            let db = try Database.open(at: "/db", options: o)
            #expect(try Self.present(db, count: 20) == Array(repeating: true, count: 3) + Array(repeating: false, count: 17))
            try db.close()
        case .skipAnyCorruptedRecord:
            // The damaged record is dropped, and with it the rest of its log
            // block (lengths there cannot be trusted); every record that
            // starts in a later block is replayed.
            let db = try Database.open(at: "/db", options: o)
            let present = try Self.present(db, count: 20)
            #expect(present[0..<3].allSatisfy { $0 } && !present[3])
            let laterBlocks = (4..<20).filter { Int(ends[$0 - 1]) / LogFormat.blockSize > Int(ends[2]) / LogFormat.blockSize }
            #expect(!laterBlocks.isEmpty && laterBlocks.allSatisfy { present[$0] }, "\(present)")
            try db.close()
        }
    }

    // MARK: damaged tables and MANIFEST

    @Test("Bit flip in a table block: a corruption error, never wrong data", arguments: [Compression.none, .lz4])
    func bitFlipInATableBlock(compression: Compression) throws {
        let dir = TempDir("corrupt-src")
        defer { dir.cleanup() }
        var o = Options()
        o.compression = compression
        o.blockSize = 128
        let db = try Database.open(at: dir.path, options: o)
        var model: [[UInt8]: [UInt8]] = [:]
        for i in 0..<24 {
            let k = utf8("key\(i)"), v = utf8(String(repeating: "v\(i)", count: 3))
            try db.put(k, v)
            model[k] = v
        }
        try db.flush()
        try db.close()
        let table = try FileManager.default.contentsOfDirectory(atPath: dir.path).first { $0.hasSuffix(".sst") }!
        let original = try Data(contentsOf: URL(fileURLWithPath: dir.file(table)))

        var detected = 0
        for offset in 0..<original.count {
            let work = TempDir("corrupt")
            defer { work.cleanup() }
            try CorruptionTests.copyDirectory(dir.path, work.path)
            var damaged = original
            damaged[offset] ^= 0x41
            try damaged.write(to: URL(fileURLWithPath: work.file(table)))
            let db = try Database.open(at: work.path, options: o)
            var sawError = false
            for (k, v) in model {
                do {
                    let got = try db.get(k)
                    #expect(got == v, "offset \(offset): wrong value for \(k)")
                } catch let e as StrataError {
                    #expect(e.kind == .corruption, "offset \(offset): \(e)")
                    sawError = true
                }
            }
            let it = try db.makeIterator()
            it.seekToFirst()
            while it.isValid {
                #expect(model[it.key] == it.value, "offset \(offset): scan returned a wrong entry")
                it.next()
            }
            if (try? it.checkStatus()) == nil { sawError = true }
            if sawError { detected += 1 }
            try db.close()
        }
        // Most bytes of a table are covered by a checksum; flips there must be caught.
        #expect(detected > original.count / 2)
    }

    @Test("Corrupt MANIFEST: open fails clearly, never opens empty")
    func corruptManifest() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let db = try Database.open(at: dir.path)
        try db.put(utf8("a"), utf8("b"))
        try db.flush()
        try db.close()
        let manifest = try FileManager.default.contentsOfDirectory(atPath: dir.path).first { $0.hasPrefix("MANIFEST-") }!
        var data = try Data(contentsOf: URL(fileURLWithPath: dir.file(manifest)))
        data[data.count / 2] ^= 0x55
        try data.write(to: URL(fileURLWithPath: dir.file(manifest)))
        let current = try Data(contentsOf: URL(fileURLWithPath: dir.file("CURRENT")))
        for _ in 0..<2 {
            #expect {
                _ = try Database.open(at: dir.path)
            } throws: { e in
                guard let e = e as? StrataError else { return false }
                return e.kind == .corruption && e.message.contains("MANIFEST")
            }
        }
        // The failed opens changed nothing: no fresh, empty database in its place.
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir.file("CURRENT"))) == current)
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir.file(manifest))) == data)
        // CURRENT naming a missing manifest.
        try FileManager.default.removeItem(atPath: dir.file(manifest))
        #expect { _ = try Database.open(at: dir.path) } throws: { ($0 as? StrataError)?.kind == .corruption }
    }

    // MARK: crashes mid-operation

    /// Prepares a database with `prepare`, then for n = 1, 1 + step, ...:
    /// a fresh copy runs `action` with every file-system call from the n-th
    /// on failing (the crash), followed by a power loss (torn writes every
    /// other time). After reopening, every write acknowledged before the
    /// crash must be there (all are synced), the one in flight may or may
    /// not be, and every table the recovered version lists must exist.
    /// Stops once `action` completes before call n; returns how many crash
    /// points were tried.
    static func sweepCrashes(step: Int = 3, prepare: (Database, SyncedWrites) throws -> Void,
                             action: (Database, SyncedWrites) throws -> Void) throws -> Int {
        var n = 1
        var tried = 0
        while n < 2000 {
            let fs = FaultInjectionFileSystem(seed: UInt64(n))
            var o = Self.options(fs, bufferSize: 4 << 10)
            o.level0FileNumCompactionTrigger = 100
            o.level0SlowdownWritesTrigger = 200
            o.level0StopWritesTrigger = 300
            let writes = SyncedWrites()
            do {
                let db = try Database.open(at: "/db", options: o)
                try prepare(db, writes)
                try db.close()
            }
            fs.inject(FaultRule(Set(FileOperation.allCases), trigger: .fromCall(n)))
            if let db = try? Database.open(at: "/db", options: o) {
                try? action(db, writes)
                fs.crash()
                try? db.close()
            }
            let completed = fs.injectedFaultCount == 0
            fs.clearFaults()
            try fs.simulatePowerLoss(tornWrites: n % 2 == 0)
            let db = try Database.open(at: "/db", options: o)
            for (i, present) in writes.present {
                let v = try db.get(utf8("k\(i)"))
                let shown = v.map { String(decoding: $0, as: UTF8.self) } ?? "nil"
                if i == writes.inFlight {
                    #expect(v == nil || v == utf8("v\(i)"), "crash at call \(n): k\(i) (in flight) = \(shown)")
                } else {
                    #expect(v == (present ? utf8("v\(i)") : nil), "crash at call \(n): k\(i) = \(shown), acknowledged \(present ? "put" : "delete")")
                }
            }
            for level in 0..<db.core.versions.current(0).files.count {
                for f in db.core.versions.current(0).files[level] {
                    #expect(fs.fileExists(at: DBPaths.table("/db", f.number)), "crash at call \(n): the version lists a missing table \(f.number)")
                }
            }
            try db.close()
            tried += 1
            if completed { break }
            n += step
        }
        return tried
    }

    @Test("Crash between table sync, MANIFEST append and CURRENT rename: old or new version, never a mix")
    func crashBetweenTableSyncManifestAppendAndCurrentRename() throws {
        // The first flush after an open writes a table, starts a new MANIFEST
        // and renames CURRENT to it: a crash anywhere in there.
        let tried = try Self.sweepCrashes(step: 2, prepare: { db, writes in
            for i in 0..<150 { try writes.put(db, i) }
            try db.flush()
        }, action: { db, writes in
            for i in 150..<180 { try writes.put(db, i) }
            try db.flush()
        })
        #expect(tried > 10)
    }

    @Test("Crash during flush and compaction")
    func crashDuringFlushAndCompaction() throws {
        let tried = try Self.sweepCrashes(prepare: { db, writes in
            for round in 0..<3 {
                for i in (round * 60)..<(round * 60 + 60) { try writes.put(db, i) }
                try db.flush()
            }
        }, action: { db, writes in
            for i in stride(from: 0, to: 180, by: 7) { try writes.delete(db, i) }
            try db.flush()
            try db.compactRange(nil, nil)
        })
        #expect(tried > 10)
    }

    // MARK: I/O errors

    @Test("ENOSPC during flush")
    func enospcDuringFlush() throws {
        let fs = FaultInjectionFileSystem()
        let o = Self.options(fs)
        let db = try Database.open(at: "/db", options: o)
        for i in 0..<100 { try db.put(utf8("k\(i)"), utf8("v\(i)"), options: Self.synced) }
        fs.inject(FaultRule([.write], failure: .noSpace, pathContains: ".sst"))
        #expect { try db.flush() } throws: { ($0 as? StrataError)?.kind == .readOnly }
        #expect { try db.put(utf8("x"), utf8("y")) } throws: { ($0 as? StrataError)?.kind == .readOnly }
        try? db.close()
        fs.clearFaults()
        let again = try Database.open(at: "/db", options: o)
        for i in 0..<100 { #expect(try again.get(utf8("k\(i)")) == utf8("v\(i)")) }
        try again.close()
    }

    @Test("EIO from fsync: the write fails, later writes fail, never retried as if it had worked")
    func eioFromFsync() throws {
        let fs = FaultInjectionFileSystem()
        let o = Self.options(fs)
        let db = try Database.open(at: "/db", options: o)
        try db.put(utf8("a"), utf8("1"), options: Self.synced)
        fs.inject(FaultRule([.sync], trigger: .onCall(1), pathContains: ".log"))
        #expect { try db.put(utf8("b"), utf8("2"), options: Self.synced) } throws: {
            ($0 as? StrataError)?.kind == .ioError
        }
        #expect { try db.put(utf8("c"), utf8("3"), options: Self.synced) } throws: {
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

    // MARK: checkpoints, backups, recovery

    @Test("Crash during checkpoint: no checkpoint that opens unless complete")
    func crashDuringCheckpoint() throws {
        var completed = 0
        var absent = 0
        for n in stride(from: 1, through: 120, by: 2) {
            let fs = FaultInjectionFileSystem()
            let o = Self.options(fs, bufferSize: 64 << 10)
            let db = try Database.open(at: "/db", options: o)
            for i in 0..<500 { try db.put(utf8("k\(i)"), utf8("v\(i)")) }
            fs.inject(FaultRule(Set(FileOperation.allCases), trigger: .fromCall(n)))
            let ok = (try? db.createCheckpoint(at: "/ckpt")) != nil
            fs.crash()
            try? db.close()
            fs.clearFaults()
            try fs.simulatePowerLoss()
            if fs.fileExists(at: "/ckpt") {
                // It exists only if it was completed and made durable: then it is whole.
                let copy = try Database.open(at: "/ckpt", options: o)
                for i in 0..<500 { #expect(try copy.get(utf8("k\(i)")) == utf8("v\(i)"), "fault at \(n)") }
                try copy.close()
                completed += 1
            } else {
                #expect(!ok, "fault at \(n): the checkpoint call succeeded but nothing survived")
                absent += 1
            }
        }
        // The sweep must cover both outcomes, or it tested nothing.
        #expect(completed > 0 && absent > 0, "completed \(completed), absent \(absent)")
    }

    /// A crash at any point of a backup leaves the earlier backups intact and
    /// no visible partial one.
    @Test("Crash during backup: earlier backups intact, no partial one")
    func crashDuringBackup() throws {
        var sawPartial = 0, sawComplete = 0
        for n in stride(from: 1, through: 160, by: 4) {
            let fs = FaultInjectionFileSystem()
            let o = Self.options(fs, bufferSize: 32 << 10)
            let db = try Database.open(at: "/db", options: o)
            for i in 0..<400 { try db.put(utf8("k\(i)"), utf8("v\(i)")) }
            let engine = try BackupEngine(directory: "/backups", fileSystem: fs)
            let first = try engine.createBackup(of: db)
            for i in 400..<600 { try db.put(utf8("k\(i)"), utf8("v\(i)")) }
            fs.inject(FaultRule(Set(FileOperation.allCases), trigger: .fromCall(n)))
            let second = try? engine.createBackup(of: db)
            fs.crash()
            try? db.close()
            fs.clearFaults()
            try fs.simulatePowerLoss()
            let reopened = try BackupEngine(directory: "/backups", fileSystem: fs)
            let ids = try reopened.backups().map(\.id)
            #expect(ids.first == first.id, "fault at \(n): the first backup is gone: \(ids)")
            try reopened.verifyBackup(first.id)
            if ids.count == 2 {
                try reopened.verifyBackup(ids[1])
                sawComplete += 1
            } else {
                #expect(ids == [first.id])
                // A backup that was reported created must survive the power loss.
                #expect(second == nil, "fault at \(n): backup \(second?.id ?? 0) was acknowledged but is gone")
                sawPartial += 1
            }
            try reopened.restore(first.id, to: "/restored-\(n)")
            let r = try Database.open(at: "/restored-\(n)", options: o)
            #expect(try r.get(utf8("k399")) == utf8("v399"))
            #expect(try r.get(utf8("k400")) == nil)
            try r.close()
        }
        #expect(sawPartial > 0 && sawComplete > 0, "partial \(sawPartial), complete \(sawComplete)")
    }

    /// A crash while recovering (at every operation of the open) followed by
    /// a power loss still reopens to the same data.
    /// A kill or power loss anywhere in the first open of a new database:
    /// between MANIFEST-000001 and CURRENT's rename the directory holds a
    /// MANIFEST and no CURRENT, which once made every later open fail as
    /// corruption. The next open must create the database (nothing was
    /// acknowledged), and the database must then take writes and reopen.
    @Test("Crash during the very first open: the next open creates the database", arguments: [false, true])
    func crashDuringTheVeryFirstOpen(powerLoss: Bool) throws {
        var n = 1
        var sawManifestWithoutCurrent = false
        while n < 500 {
            let fs = FaultInjectionFileSystem(seed: UInt64(n))
            let o = Self.options(fs)
            fs.inject(FaultRule(Set(FileOperation.allCases), trigger: .fromCall(n)))
            if let db = try? Database.open(at: "/db", options: o) {
                fs.crash()
                try? db.close()
            }
            let completed = fs.injectedFaultCount == 0
            fs.clearFaults()
            if powerLoss {
                try fs.simulatePowerLoss(tornWrites: n % 2 == 0)
            } else {
                fs.crash()
                fs.restartAfterProcessCrash()
            }
            let left = (try? fs.listDirectory(at: "/db")) ?? []
            if left.contains("MANIFEST-000001") && !left.contains("CURRENT") { sawManifestWithoutCurrent = true }
            let db: Database
            do {
                db = try Database.open(at: "/db", options: o)
            } catch {
                Issue.record("crash at call \(n) (left \(left.sorted())): reopen failed: \(error)")
                break
            }
            #expect(try db.get(utf8("k")) == nil, "crash at call \(n)")
            try db.put(utf8("k"), utf8("v"), options: Self.synced)
            try db.close()
            let again = try Database.open(at: "/db", options: o)
            #expect(try again.get(utf8("k")) == utf8("v"), "crash at call \(n)")
            try again.close()
            if completed { break }
            n += 1
        }
        // A power loss undoes the MANIFEST's directory entry too (the
        // directory is synced only after CURRENT's rename); a kill keeps it.
        if !powerLoss { #expect(sawManifestWithoutCurrent, "no crash point left MANIFEST-000001 without CURRENT") }
    }

    /// The rule behind it: only MANIFEST-000001 and temporary files count as
    /// an interrupted creation; a log, a table or a later MANIFEST means a
    /// database that was opened, and a missing CURRENT there stays corruption.
    @Test func whatCountsAsAnInterruptedCreation() throws {
        #expect(DBCore.isInterruptedCreation(["MANIFEST-000001"]))
        #expect(DBCore.isInterruptedCreation(["MANIFEST-000001", "000001.dbtmp"]))
        #expect(!DBCore.isInterruptedCreation(["MANIFEST-000001", "000002.log"]))
        #expect(!DBCore.isInterruptedCreation(["MANIFEST-000001", "000005.sst"]))
        #expect(!DBCore.isInterruptedCreation(["MANIFEST-000007"]))

        let fs = InMemoryFileSystem()
        let o = Self.options(fs)
        try Database.open(at: "/db", options: o).close()
        try fs.removeFile(at: "/db/CURRENT")
        #expect { try Database.open(at: "/db", options: o) } throws: { ($0 as? StrataError)?.kind == .corruption }

        try fs.createDirectory(at: "/fresh")
        let f = try fs.createFile(at: "/fresh/MANIFEST-000001")
        try f.close()
        var strict = o
        strict.createIfMissing = false
        #expect { try Database.open(at: "/fresh", options: strict) } throws: { ($0 as? StrataError)?.kind == .notFound }
    }

    @Test("Crash during recovery itself")
    func crashDuringRecoveryItself() throws {
        let fs = FaultInjectionFileSystem()
        let o = Self.options(fs, bufferSize: 2 << 10)
        do {
            let db = try Database.open(at: "/db", options: o)
            for i in 0..<200 { try db.put(utf8("k\(i)"), utf8("v\(i)"), options: Self.synced) }
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

/// Synced writes of `k<i>` = `v<i>` (or deletes) made by one thread, and
/// which one was in flight when a crash came.
final class SyncedWrites: @unchecked Sendable {
    /// Key index -> whether its last acknowledged write put it (false: deleted).
    var present: [Int: Bool] = [:]
    /// The key being written when the last call threw, if one did.
    var inFlight: Int?

    func put(_ db: Database, _ i: Int) throws {
        inFlight = i
        try db.put(utf8("k\(i)"), utf8("v\(i)"), options: CrashScenarioTests.synced)
        present[i] = true
        inFlight = nil
    }

    func delete(_ db: Database, _ i: Int) throws {
        inFlight = i
        try db.delete(utf8("k\(i)"), options: CrashScenarioTests.synced)
        present[i] = false
        inFlight = nil
    }
}
