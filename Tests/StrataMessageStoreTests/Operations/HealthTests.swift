import Foundation
import Strata
import StrataMessageStore
import StrataSQLite
import Testing

@Suite struct HealthTests {
    static let roomy = HealthThresholds(warningFreeDiskBytes: 0, criticalFreeDiskBytes: 0)

    @Test(arguments: Backend.allCases)
    func healthyStore(backend: Backend) async throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try await backend.make(dir)
        try await store.add(Message(id: "m1", queue: "q", payload: [1]))
        let h = try await store.health(thresholds: Self.roomy)
        #expect(h == .healthy, "\(h)")
        #expect(h.exitCode == 0)
        #expect(try await store.storageBytes() > 0)
        try await store.close()
    }

    /// The file-backed stores compare free disk with the thresholds.
    @Test(arguments: [Backend.lsm, .sqlite])
    func lowDiskSpace(backend: Backend) async throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try await backend.make(dir)
        let warn = try await store.health(thresholds: HealthThresholds(warningFreeDiskBytes: .max, criticalFreeDiskBytes: 0))
        #expect(warn.status == .warning)
        #expect(warn.reasons.map(\.kind) == [.lowDiskSpace])
        let crit = try await store.health(thresholds: HealthThresholds(warningFreeDiskBytes: .max, criticalFreeDiskBytes: .max))
        guard case .critical(let reasons) = crit else {
            Issue.record("expected critical, got \(crit)")
            return
        }
        #expect(reasons.map(\.kind) == [.lowDiskSpace])
        #expect(crit.exitCode == 2)
        try await store.close()
    }

    @Test(arguments: Backend.allCases.filter { $0 != .postgres })
    func closedStoreIsCritical(backend: Backend) async throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try await backend.make(dir)
        try await store.close()
        let h = try await store.health(thresholds: Self.roomy)
        #expect(h.status == .critical)
        #expect(h.reasons.map(\.kind) == [.closed])
    }

    /// A failed log sync stops the engine's writes: critical, background error.
    @Test func lsmBackgroundErrorIsCritical() async throws {
        let fs = FaultInjectionFileSystem()
        var options = MessageStoreOptions()
        options.engine.fileSystem = fs
        let store = try await LSMMessageStore.open(at: "/store", options: options)
        try await store.add(Message(id: "ok", queue: "q", payload: [1]))
        #expect(try await store.health(thresholds: Self.roomy) == .healthy)
        fs.inject(FaultRule([.sync, .write], trigger: .always, pathContains: ".log"))
        await #expect(throws: (any Error).self) { try await store.add(Message(id: "fails", queue: "q", payload: [2])) }
        let h = try await store.health(thresholds: Self.roomy)
        #expect(h.status == .critical, "\(h)")
        #expect(h.reasons.contains { $0.kind == .backgroundError }, "\(h)")
        #expect(store.engineProperty("strata.background-error")?.isEmpty == false)
    }

    /// The LOCK file gone: another process could open the store.
    @Test func lsmLostLockIsCritical() async throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try await LSMMessageStore.open(at: dir + "/store")
        try FileManager.default.removeItem(atPath: dir + "/store/LOCK")
        let h = try await store.health(thresholds: Self.roomy)
        #expect(h.reasons.map(\.kind) == [.connectionLost])
        try await store.close()
    }

    /// `verifyData` reads every record: a damaged table file is found.
    @Test func lsmVerifyDataFindsCorruption() async throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/store"
        var store = try await LSMMessageStore.open(at: path)
        for i in 0..<200 { try await store.add(Message(id: "m\(i)", queue: "q", payload: Array(repeating: UInt8(i), count: 300))) }
        try await store.compact()
        try await store.close()
        let verify = HealthThresholds(warningFreeDiskBytes: 0, criticalFreeDiskBytes: 0, verifyData: true)
        store = try await LSMMessageStore.open(at: path)
        #expect(try await store.health(thresholds: verify) == .healthy)
        try await store.close()
        let table = try #require(try FileManager.default.contentsOfDirectory(atPath: path).filter { $0.hasSuffix(".sst") }
            .max { (try? FileManager.default.attributesOfItem(atPath: path + "/" + $0)[.size] as? Int ?? 0) ?? 0 < (try? FileManager.default.attributesOfItem(atPath: path + "/" + $1)[.size] as? Int ?? 0) ?? 0 })
        var data = try Data(contentsOf: URL(fileURLWithPath: path + "/" + table))
        data[data.count / 3] ^= 0xFF
        try data.write(to: URL(fileURLWithPath: path + "/" + table))
        store = try await LSMMessageStore.open(at: path)
        let h = try await store.health(thresholds: verify)
        #expect(h.reasons.map(\.kind) == [.corruption], "\(h)")
        try await store.close()
    }

    @Test func sqliteFileGoneIsCritical() async throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try SQLiteMessageStore(path: dir + "/s.sqlite")
        #expect(try await store.health(thresholds: HealthThresholds(warningFreeDiskBytes: 0, criticalFreeDiskBytes: 0, verifyData: true)) == .healthy)
        try FileManager.default.removeItem(atPath: dir + "/s.sqlite")
        let h = try await store.health(thresholds: Self.roomy)
        #expect(h.reasons.map(\.kind).contains(.connectionLost), "\(h)")
        try await store.close()
    }

    @Test func engineProperties() async throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try await LSMMessageStore.open(at: dir + "/store")
        try await store.add(Message(id: "m1", queue: "q", payload: [1]))
        #expect(store.engineProperty("strata.estimate-num-keys", family: "messages") == "1")
        #expect(store.engineProperty("strata.stats") != nil)
        #expect(store.engineProperty("strata.no-such-property") == nil)
        #expect(store.engineProperty("strata.stats", family: "no-such-family") == nil)
        #expect(store.engineStatistics != nil)
        try await store.close()
        #expect(store.engineProperty("strata.stats") == nil)
    }
}
