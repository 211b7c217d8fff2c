import Foundation
import Strata
import StrataMessageStore
import StrataSQLite
import Testing

/// Restores that survive a crash at any step (LSM: through the engine's
/// file-system seam with a swap marker; SQLite: copy, fsync, atomic rename)
/// and never write to the backup they read.
@Suite struct RestoreTests {
    func options(_ fs: FaultInjectionFileSystem) -> MessageStoreOptions {
        var o = MessageStoreOptions()
        o.engine.fileSystem = fs
        o.logger.logLevel = .critical
        o.engine.logger.logLevel = .critical
        return o
    }

    func ids(_ store: LSMMessageStore) async throws -> [String] {
        try await store.pending(queue: "q", limit: 100).map(\.id)
    }

    /// Crashes the restore at its k-th file-system call (every later call
    /// fails, then power is lost), for every k until a restore runs clean:
    /// the reopened store is always the old one or the backup, and nothing
    /// of the protocol is left beside it.
    @Test func aCrashAtEveryStepOfRestoreLeavesTheOldOrTheRestoredStore() async throws {
        var sawOld = false, sawRestored = false
        for k in 1... {
            let fs = FaultInjectionFileSystem(seed: UInt64(k))
            let store = try await LSMMessageStore.open(at: "/data/store", options: options(fs))
            try await store.add(Message(id: "a", queue: "q", payload: [1]))
            try await store.backup(to: "/data/backup")
            try await store.add(Message(id: "b", queue: "q", payload: [2]))
            try fs.syncDirectory(at: "/data")
            fs.inject(FaultRule(Set(FileOperation.allCases), trigger: .fromCall(k)))
            var crashed = false
            do { try await store.restore(from: "/data/backup") } catch { crashed = true }
            crashed = crashed || fs.injectedFaultCount > 0
            fs.clearFaults()
            if !crashed {
                #expect(try await ids(store) == ["a"], "a restore that ran clean serves the backup")
                try await store.close()
            } else {
                try? await store.close()
            }
            try fs.simulatePowerLoss()
            let reopened = try await LSMMessageStore.open(at: "/data/store", options: options(fs))
            let got = try await ids(reopened)
            #expect(got == ["a", "b"] || got == ["a"], "crash at call \(k): store holds \(got)")
            if got == ["a", "b"] { sawOld = true } else { sawRestored = true }
            let left = try fs.listDirectory(at: "/data").filter { $0 != "store" && $0 != "backup" }.sorted()
            #expect(left.isEmpty, "crash at call \(k): left beside the store: \(left)")
            try await reopened.close()
            if !crashed { break }
            if k > 2000 { Issue.record("restore still crashing after 2000 steps"); break }
        }
        #expect(sawOld && sawRestored, "the crash points covered both outcomes")
    }

    @Test func aSwapInterruptedBetweenItsRenamesIsFinishedByOpen() async throws {
        let fs = FaultInjectionFileSystem(seed: 3)
        let store = try await LSMMessageStore.open(at: "/s/store", options: options(fs))
        try await store.add(Message(id: "old", queue: "q", payload: []))
        try await store.backup(to: "/s/backup")
        try await store.add(Message(id: "new", queue: "q", payload: []))
        try await store.close()
        // The state a crash right after the first rename leaves: the store
        // aside, the staged copy and the marker, nothing at the path.
        try LSMMessageStoreTestAccess.stage(backup: "/s/backup", store: "/s/store", fs)
        try fs.rename("/s/store", to: "/s/store.strata-replaced")
        #expect(!fs.fileExists(at: "/s/store"))
        let reopened = try await LSMMessageStore.open(at: "/s/store", options: options(fs))
        #expect(try await reopened.pending(queue: "q", limit: 10).map(\.id) == ["old"])
        #expect(try fs.listDirectory(at: "/s").sorted() == ["backup", "store"])
        try await reopened.close()
    }

    @Test func sqliteRestoreNeverWritesToTheBackup() async throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try SQLiteMessageStore(path: dir + "/live.sqlite")
        try await store.add(Message(id: "a", queue: "q", payload: [1]))
        try await store.backup(to: dir + "/backup.sqlite")
        try await store.add(Message(id: "b", queue: "q", payload: [2]))
        let before = try Data(contentsOf: URL(fileURLWithPath: dir + "/backup.sqlite"))
        try await store.restore(from: dir + "/backup.sqlite")
        #expect(try await store.pending(queue: "q", limit: 10).map(\.id) == ["a"])
        let after = try Data(contentsOf: URL(fileURLWithPath: dir + "/backup.sqlite"))
        #expect(before == after, "restore changed the backup file")
        let beside = try FileManager.default.contentsOfDirectory(atPath: dir).sorted()
        #expect(beside == ["backup.sqlite", "live.sqlite", "live.sqlite-shm", "live.sqlite-wal"] || beside == ["backup.sqlite", "live.sqlite"],
                "\(beside)")
        // The restored store takes writes, and a second restore from the same backup works.
        try await store.add(Message(id: "c", queue: "q", payload: [3]))
        try await store.restore(from: dir + "/backup.sqlite")
        #expect(try await store.pending(queue: "q", limit: 10).map(\.id) == ["a"])
        try await store.close()
    }
}
