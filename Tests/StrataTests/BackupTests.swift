import Foundation
import Synchronization
import Testing
@testable import Strata

/// Checkpoints and the backup engine.
@Suite(.offCooperativePool) struct BackupTests {
    static func contents(_ db: Database) throws -> [[UInt8]: [UInt8]] {
        var out: [[UInt8]: [UInt8]] = [:]
        let it = try db.makeIterator()
        it.seekToFirst()
        while it.isValid { out[it.key] = it.value; it.next() }
        try it.checkStatus()
        return out
    }

    static func fill(_ db: Database, _ range: Range<Int>, tag: String = "v") throws {
        for i in range { try db.put(utf8(String(format: "key%06d", i)), utf8("\(tag)\(i)-" + String(repeating: "x", count: 100))) }
    }

    func smallOptions() -> Options {
        var o = Options()
        o.writeBufferSize = 64 << 10
        o.logger.logLevel = .critical
        return o
    }

    @Test func checkpointOpensWithTheSameData() throws {
        let dir = TempDir("ckpt-src"), ck = TempDir("ckpt")
        defer { dir.cleanup(); ck.cleanup() }
        let db = try Database.open(at: dir.path, options: smallOptions())
        try Self.fill(db, 0..<3000)
        try db.delete(utf8("key000010"))
        try db.put(utf8("mem"), utf8("only"), options: WriteOptions(commitMode: .memoryOnly))
        try db.createCheckpoint(at: ck.path)
        #expect { try db.createCheckpoint(at: ck.path) } throws: { ($0 as? StrataError)?.kind == .invalidArgument }
        let expected = try Self.contents(db)
        try Self.fill(db, 3000..<3100)  // after the checkpoint: not in it
        let copy = try Database.open(at: ck.path, options: smallOptions())
        #expect(try Self.contents(copy) == expected)
        try copy.put(utf8("independent"), utf8("1"))
        #expect(try db.get(utf8("independent")) == nil)
        try copy.close()
        try db.close()
    }

    @Test func checkpointUnderConcurrentWritesHoldsEverythingAcknowledgedBefore() throws {
        let dir = TempDir("ckpt-conc"), ck = TempDir("ckpt-conc-out")
        defer { dir.cleanup(); ck.cleanup() }
        let db = try Database.open(at: dir.path, options: smallOptions())
        let writer = BackgroundWriter(db, atLeast: 2000)
        let before = writer.acknowledged
        try db.createCheckpoint(at: ck.path)
        writer.stop()
        let copy = try Database.open(at: ck.path, options: smallOptions())
        var present = 0
        for i in 0...before { if try copy.get(utf8(String(format: "c%07d", i))) == utf8("v\(i)") { present += 1 } }
        #expect(present == before + 1)
        // And what is there is a prefix of the writes (no holes).
        let all = try Self.contents(copy)
        for i in 0..<all.count { #expect(all[utf8(String(format: "c%07d", i))] != nil) }
        try copy.close()
        try db.close()
    }

    @Test func checkpointOnTheInMemoryFileSystem() throws {
        let fs = FaultInjectionFileSystem()
        var o = smallOptions()
        o.fileSystem = fs
        let db = try Database.open(at: "/db", options: o)
        for i in 0..<300 { try db.put(utf8("k\(i)"), utf8("v\(i)")) }
        try db.createCheckpoint(at: "/ckpt")
        try fs.simulatePowerLoss()  // the checkpoint was synced: it survives
        let copy = try Database.open(at: "/ckpt", options: o)
        for i in 0..<300 { #expect(try copy.get(utf8("k\(i)")) == utf8("v\(i)")) }
        try copy.close()
        try? db.close()
    }

    @Test func backupRestoreVerifyAndIncrementalCopies() throws {
        let dir = TempDir("bk-src"), bk = TempDir("bk"), restored = TempDir("bk-restored")
        defer { dir.cleanup(); bk.cleanup(); restored.cleanup() }
        let db = try Database.open(at: dir.path, options: smallOptions())
        try Self.fill(db, 0..<20000)
        try db.flush()
        let engine = try BackupEngine(directory: bk.path)
        var firstBytes: UInt64 = 0
        let first = try engine.createBackup(of: db) { copied, _ in firstBytes = copied }
        #expect(first.id == 1)
        let state1 = try Self.contents(db)

        try Self.fill(db, 20000..<20200, tag: "w")  // 1% new data
        try db.flush()
        var secondBytes: UInt64 = 0
        let second = try engine.createBackup(of: db) { copied, _ in secondBytes = copied }
        #expect(second.id == 2)
        #expect(secondBytes * 20 < firstBytes, "second backup copied \(secondBytes) of \(firstBytes)")
        #expect(try engine.backups().map(\.id) == [1, 2])
        try engine.verifyBackup(1)
        try engine.verifyBackup(2)

        try engine.restore(1, to: restored.path)
        let r = try Database.open(at: restored.path, options: smallOptions())
        #expect(try Self.contents(r) == state1)
        try r.close()
        #expect { try engine.restore(2, to: restored.path) } throws: { ($0 as? StrataError)?.kind == .invalidArgument }
        try engine.restore(2, to: restored.path, overwrite: true)
        let r2 = try Database.open(at: restored.path, options: smallOptions())
        #expect(try Self.contents(r2) == Self.contents(db))
        try r2.close()
        try db.close()
    }

    @Test func damagedBackupIsFoundAndRefused() throws {
        let dir = TempDir("bk-dmg-src"), bk = TempDir("bk-dmg"), restored = TempDir("bk-dmg-restored")
        defer { dir.cleanup(); bk.cleanup(); restored.cleanup() }
        let db = try Database.open(at: dir.path, options: smallOptions())
        try Self.fill(db, 0..<2000)
        try db.flush()
        let engine = try BackupEngine(directory: bk.path)
        let info = try engine.createBackup(of: db)
        try db.close()
        let shared = try FileManager.default.contentsOfDirectory(atPath: bk.path + "/shared").first!
        let path = bk.path + "/shared/" + shared
        var data = try Data(contentsOf: URL(fileURLWithPath: path))
        data[data.count / 2] ^= 0x08
        try data.write(to: URL(fileURLWithPath: path))
        #expect { try engine.verifyBackup(info.id) } throws: { ($0 as? StrataError)?.kind == .corruption }
        #expect { try engine.restore(info.id, to: restored.path) } throws: { ($0 as? StrataError)?.kind == .corruption }
        #expect(!FileManager.default.fileExists(atPath: restored.path))
    }

    @Test func retentionKeepsExactlyN() throws {
        let dir = TempDir("bk-ret-src"), bk = TempDir("bk-ret")
        defer { dir.cleanup(); bk.cleanup() }
        let db = try Database.open(at: dir.path, options: smallOptions())
        let engine = try BackupEngine(directory: bk.path)
        for round in 0..<5 {
            try Self.fill(db, (round * 100)..<(round * 100 + 100))
            try db.flush()
            try engine.createBackup(of: db)
        }
        try engine.purgeOldBackups(keeping: 3)
        #expect(try engine.backups().map(\.id) == [3, 4, 5])
        for id in [3, 4, 5] { try engine.verifyBackup(id) }
        try engine.deleteBackup(4)
        #expect(try engine.backups().map(\.id) == [3, 5])
        #expect { try engine.verifyBackup(4) } throws: { ($0 as? StrataError)?.kind == .notFound }
        // Shared files only backup 4 used are gone; the rest still verify.
        try engine.verifyBackup(3)
        try engine.verifyBackup(5)
        try db.close()
    }
}

/// Backups while the database takes writes (crashes during one: CrashScenarioTests).
@Suite(.offCooperativePool) struct BackupCrashTests {
    func options(_ fs: any FileSystem) -> Options {
        var o = Options()
        o.fileSystem = fs
        o.writeBufferSize = 32 << 10
        o.logger.logLevel = .critical
        return o
    }

    @Test func backupUnderConcurrentWritesRestoresEverythingAcknowledgedBefore() throws {
        let dir = TempDir("bk-conc-src"), bk = TempDir("bk-conc"), restored = TempDir("bk-conc-restored")
        defer { dir.cleanup(); bk.cleanup(); restored.cleanup() }
        let db = try Database.open(at: dir.path, options: options(POSIXFileSystem()))
        let writer = BackgroundWriter(db, atLeast: 3000)
        let before = writer.acknowledged
        let engine = try BackupEngine(directory: bk.path)
        let info = try engine.createBackup(of: db)
        writer.stop()
        try engine.verifyBackup(info.id)
        try engine.restore(info.id, to: restored.path)
        let r = try Database.open(at: restored.path, options: options(POSIXFileSystem()))
        var count = 0
        let it = try r.makeIterator()
        it.seekToFirst()
        while it.isValid {
            #expect(it.key == utf8(String(format: "c%07d", count)) && it.value == utf8("v\(count)"), "hole or wrong value at \(count)")
            count += 1
            it.next()
        }
        #expect(count > before, "backup lost acknowledged writes: \(count) <= \(before)")
        try r.close()
        try db.close()
    }

}

/// A thread writing `c<i>` = `v<i>` for i = 0, 1, 2... until stopped; the
/// initializer returns once `atLeast` writes are acknowledged.
final class BackgroundWriter: Sendable {
    private let last = Atomic<Int>(-1)
    private let stopping = Atomic<Bool>(false)
    private let done = DispatchSemaphore(value: 0)

    init(_ db: Database, atLeast count: Int) {
        Thread { [self] in
            var i = 0
            while !self.stopping.load(ordering: .relaxed) {
                try? db.put(utf8(String(format: "c%07d", i)), utf8("v\(i)"))
                self.last.store(i, ordering: .releasing)
                i += 1
            }
            self.done.signal()
        }.start()
        while last.load(ordering: .acquiring) < count { usleep(1000) }
    }

    /// Index of the newest acknowledged write.
    var acknowledged: Int { last.load(ordering: .acquiring) }

    func stop() {
        stopping.store(true, ordering: .relaxed)
        done.wait()
    }
}
