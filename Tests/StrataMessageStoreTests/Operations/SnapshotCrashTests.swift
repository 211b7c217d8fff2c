import Foundation
import Strata
import StrataMessageStore
import StrataPostgres
import StrataSQLite
import Testing

/// Stands for the process dying at a snapshot step.
struct Killed: Error {}

/// A crash in the middle of a snapshot leaves the earlier ones intact and
/// no partial one visible, on every backend that persists snapshots.
@Suite struct SnapshotCrashTests {
    /// Store options on the fault-injecting file system over the real disk
    /// (real so the restore's directory swap works).
    static func faultInjected() -> (FaultInjectionFileSystem, MessageStoreOptions) {
        let fs = FaultInjectionFileSystem(base: POSIXFileSystem())
        var options = MessageStoreOptions()
        options.engine.fileSystem = fs
        return (fs, options)
    }

    /// LSM: the engine's fault-injecting file system (over the real disk):
    /// killed at each step, then a power loss (unsynced bytes and directory
    /// entries dropped), then reopened.
    @Test(arguments: SnapshotStep.allCases)
    func lsmKilledAtEachStep(step: SnapshotStep) async throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (fs, options) = Self.faultInjected()
        let path = dir + "/store"
        let store = try await LSMMessageStore.open(at: path, options: options)
        try await store.add(Message(id: "m1", queue: "q", payload: [1]))
        try await store.createSnapshot(name: "a")
        try await store.add(Message(id: "m2", queue: "q", payload: [2]))
        store.snapshotHook = { s in
            if s == step {
                fs.crash()
                throw Killed()
            }
        }
        await #expect(throws: Killed.self) { try await store.createSnapshot(name: "b") }
        try fs.simulatePowerLoss()

        let reopened = try await LSMMessageStore.open(at: path, options: options)
        let names = try await reopened.snapshots().map(\.name)
        #expect(names == (step == .published ? ["a", "b"] : ["a"]))
        try await reopened.restoreSnapshot(name: "a")
        #expect(try await reopened.pending(queue: "q", limit: 10).map(\.id) == ["m1"])
        try await reopened.createSnapshot(name: "c")
        // An unnamed backup left by the kill is gone: one backup per name.
        let backups = try BackupEngine(directory: path + ".snapshots/backups", fileSystem: fs).backups()
        #expect(backups.count == names.count + 1)
        try await reopened.close()
    }

    /// LSM: the disk fails in the middle of copying the backup's files.
    @Test(arguments: [1, 2, 3])
    func lsmDiskFailsMidCopy(failingWrite: Int) async throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (fs, options) = Self.faultInjected()
        let path = dir + "/store"
        let store = try await LSMMessageStore.open(at: path, options: options)
        for i in 0..<50 { try await store.add(Message(id: "m\(i)", queue: "q", payload: Array(repeating: UInt8(i), count: 500))) }
        try await store.createSnapshot(name: "a")
        try await store.add(Message(id: "late", queue: "q", payload: [1]))
        fs.inject(FaultRule([.write, .sync], trigger: .onCall(failingWrite), pathContains: "store.snapshots/"))
        await #expect(throws: (any Error).self) { try await store.createSnapshot(name: "b") }
        #expect(fs.injectedFaultCount == 1)
        fs.clearFaults()
        #expect(try await store.snapshots().map(\.name) == ["a"])
        try fs.simulatePowerLoss()
        let reopened = try await LSMMessageStore.open(at: path, options: options)
        #expect(try await reopened.snapshots().map(\.name) == ["a"])
        try await reopened.restoreSnapshot(name: "a")
        #expect(try await reopened.pending(queue: "q", limit: 100).count == 50)
        try await reopened.close()
    }

    /// LSM: a damaged snapshot file is refused and the live store untouched.
    @Test func lsmDamagedSnapshotIsRefused() async throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/store"
        let store = try await LSMMessageStore.open(at: path)
        try await store.add(Message(id: "m1", queue: "q", payload: Array(repeating: 7, count: 4000)))
        try await store.compact()  // table files in the snapshot, not only a log
        try await store.createSnapshot(name: "a")
        try await store.add(Message(id: "m2", queue: "q", payload: [2]))
        try flipByteInLargestFile(under: path + ".snapshots/backups")
        try await expectKind(.corruption) { try await store.restoreSnapshot(name: "a") }
        #expect(try await store.pending(queue: "q", limit: 10).map(\.id) == ["m1", "m2"])
        try await store.close()
    }

    /// SQLite: killed between the steps (the hook throws and nothing is
    /// cleaned up, as after a kill), then opened again by a new store.
    @Test(arguments: SnapshotStep.allCases)
    func sqliteKilledAtEachStep(step: SnapshotStep) async throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/store.sqlite"
        let store = try SQLiteMessageStore(path: path)
        try await store.add(Message(id: "m1", queue: "q", payload: [1]))
        try await store.createSnapshot(name: "a")
        try await store.add(Message(id: "m2", queue: "q", payload: [2]))
        store.snapshotHook = { s in if s == step { throw Killed() } }
        await #expect(throws: Killed.self) { try await store.createSnapshot(name: "b") }
        try await store.close()

        let reopened = try SQLiteMessageStore(path: path)
        #expect(try await reopened.snapshots().map(\.name) == (step == .published ? ["a", "b"] : ["a"]))
        try await reopened.restoreSnapshot(name: "a")
        #expect(try await reopened.pending(queue: "q", limit: 10).map(\.id) == ["m1"])
        try await reopened.createSnapshot(name: "c")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: path + ".snapshots").filter { $0.hasPrefix(".") && $0 != ".lock" }
        #expect(leftovers.isEmpty)
        try await reopened.close()
    }

    /// SQLite: a damaged snapshot is refused and the live store untouched.
    @Test func sqliteDamagedSnapshotIsRefused() async throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/store.sqlite"
        let store = try SQLiteMessageStore(path: path)
        try await store.add(Message(id: "m1", queue: "q", payload: [1]))
        try await store.createSnapshot(name: "a")
        try await store.add(Message(id: "m2", queue: "q", payload: [2]))
        try flipByteInLargestFile(under: path + ".snapshots/a")
        try await expectKind(.corruption) { try await store.restoreSnapshot(name: "a") }
        #expect(try await store.pending(queue: "q", limit: 10).map(\.id) == ["m1", "m2"])
        try await store.close()
    }

    /// PostgreSQL: killed inside the snapshot's transaction (the hook throws,
    /// the transaction rolls back as when the connection dies).
    @Test(.enabled(if: ProcessInfo.processInfo.environment["STRATA_POSTGRES_URL"] != nil, "needs STRATA_POSTGRES_URL"),
          arguments: SnapshotStep.allCases)
    func postgresKilledAtEachStep(step: SnapshotStep) async throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try await Backend.postgres.make(dir) as! PostgresMessageStore
        try await store.add(Message(id: "m1", queue: "q", payload: [1]))
        try await store.createSnapshot(name: "a")
        try await store.add(Message(id: "m2", queue: "q", payload: [2]))
        store.snapshotHook = { s in if s == step { throw Killed() } }
        await #expect(throws: Killed.self) { try await store.createSnapshot(name: "b") }
        store.snapshotHook = nil
        let reopened = try await Backend.postgres.make(dir)
        #expect(try await reopened.snapshots().map(\.name) == (step == .published ? ["a", "b"] : ["a"]))
        try await reopened.restoreSnapshot(name: "a")
        #expect(try await reopened.pending(queue: "q", limit: 10).map(\.id) == ["m1"])
        if step != .published { try await reopened.createSnapshot(name: "b") }  // the name was never taken
        for s in try await reopened.snapshots() { try await reopened.deleteSnapshot(name: s.name) }
        try await reopened.close()
    }
}

/// Flips one byte in the middle of the largest regular file under `dir`.
func flipByteInLargestFile(under dir: String) throws {
    let fm = FileManager.default
    var best: (String, Int)?
    for rel in try fm.subpathsOfDirectory(atPath: dir) {
        let p = dir + "/" + rel
        let attrs = try fm.attributesOfItem(atPath: p)
        guard attrs[.type] as? FileAttributeType == .typeRegular, let size = (attrs[.size] as? NSNumber)?.intValue else { continue }
        if size > (best?.1 ?? 0) { best = (p, size) }
    }
    let (path, size) = try #require(best)
    var data = try Data(contentsOf: URL(fileURLWithPath: path))
    data[size / 2] ^= 0xFF
    try data.write(to: URL(fileURLWithPath: path))
}
