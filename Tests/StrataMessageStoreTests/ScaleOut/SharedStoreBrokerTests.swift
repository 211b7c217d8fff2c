import Foundation
import StrataStress
import StrataTestSupport
import Testing

/// Several broker processes on one store (issue 14, item 4): three `strata
/// stress-brokers-child` processes open one store by URL, add and consume
/// as competing consumers, and broker 0 is SIGKILLed while it holds locks.
/// `SharedStoreVerdict.judge` (StrataStress) then checks every broker's
/// journal: no message under two live locks, the dead broker's messages
/// delivered to the others after its locks expire, nothing acknowledged
/// lost, nothing completed delivered again. Real processes, not tasks.
@Suite struct SharedStoreBrokerTests {
    static let postgresURL = ProcessInfo.processInfo.environment["STRATA_POSTGRES_URL"]

    static func run(store: String, label: String) async throws {
        let executable = try #require(StrataExecutable.path, "the strata executable is not built next to the test bundle")
        let dir = TempDir("brokers")
        defer { dir.cleanup() }
        let seed = TestSeed.fresh(label)
        var stress = SharedStoreStress(store: store.replacingOccurrences(of: "$DIR", with: dir.path),
                                       tablePrefix: "brokers\(seed % 1_000_000)_", executable: executable, directory: dir.path + "/journals",
                                       seed: seed)
        stress.brokers = 3
        stress.messagesPerBroker = 60
        stress.lockDuration = .seconds(2)
        let failure = await stress.run(cycles: 1) { print($0) }
        #expect(failure == nil, "seed \(seed)")
    }

    @Test("Three broker processes on one PostgreSQL store, one SIGKILLed holding locks",
          .enabled(if: postgresURL != nil, "needs STRATA_POSTGRES_URL (make test starts a server)"),
          .enabled(if: StrataExecutable.path != nil, "the strata executable is not built"))
    func threeBrokersOnPostgreSQL() async throws {
        try await Self.run(store: Self.postgresURL ?? "", label: "threeBrokersOnPostgreSQL")
    }

    @Test("Three broker processes on one SQLite file, one SIGKILLed holding locks",
          .enabled(if: StrataExecutable.path != nil, "the strata executable is not built"))
    func threeBrokersOnSQLite() async throws {
        try await Self.run(store: "sqlite:$DIR/shared.sqlite", label: "threeBrokersOnSQLite")
    }
}
