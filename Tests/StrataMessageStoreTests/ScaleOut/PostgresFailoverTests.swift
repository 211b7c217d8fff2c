import Foundation
import StrataMessageStore
import StrataTestSupport
import Testing

/// Failover (issue 14, item 5): a store opened on both servers of a
/// synchronous streaming-replication pair (`postgresql://u@h1:p1,h2:p2/db`)
/// keeps adding while the primary is stopped at once (a crash) and the
/// standby promoted; the store finds the new primary and carries on, and
/// every add acknowledged before, during and after the failover is there.
///
/// Destructive: it stops the primary every other PostgreSQL test uses, so
/// it runs only when STRATA_POSTGRES_STANDBY_URL is set too, which `make
/// test` does in a run of this suite alone after the others (postgres.sh
/// start-standby, then stop-primary and promote from here, with the
/// script's STRATA_PG_DIR / STRATA_PG_PORT from the environment).
@Suite struct PostgresFailoverTests {
    static let primaryURL = ProcessInfo.processInfo.environment["STRATA_POSTGRES_URL"]
    static let standbyURL = ProcessInfo.processInfo.environment["STRATA_POSTGRES_STANDBY_URL"]

    /// `postgresql://user@host:port/db` → (`postgresql://user@`, `host:port`, `/db`).
    static func split(_ url: String) throws -> (prefix: String, hostPort: String, path: String) {
        let schemeEnd = try #require(url.range(of: "://"), "not a URL: \(url)").upperBound
        let authorityStart = url[schemeEnd...].firstIndex(of: "@").map { url.index(after: $0) } ?? schemeEnd
        let pathStart = url[authorityStart...].firstIndex(of: "/") ?? url.endIndex
        return (String(url[..<authorityStart]), String(url[authorityStart..<pathStart]), String(url[pathStart...]))
    }

    /// Runs `Tests/Support/postgres.sh <command>`.
    static func script(_ command: String) throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Support/postgres.sh").path
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = [path, command]
        try p.run()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0, "postgres.sh \(command) exited with \(p.terminationStatus)")
    }

    /// Adds `m0`, `m1`, … one at a time, keeping the ids whose add was
    /// acknowledged. An add that fails with `.unavailable` (the primary is
    /// gone, the store is finding the new one) is retried with the same id
    /// until it returns; `.duplicateId` on a retry means the earlier try
    /// was stored after all, which is an acknowledgement too.
    actor Writer {
        let store: any MessageStore
        let queue: String
        private(set) var acknowledged: [String] = []
        private(set) var retries = 0
        private(set) var failure: String?
        private var stopped = false

        init(store: any MessageStore, queue: String) {
            self.store = store
            self.queue = queue
        }

        func stop() { stopped = true }

        func run() async {
            var n = 0
            while !stopped {
                let id = "m\(n)"
                var retried = false
                while true {
                    do {
                        try await store.add(Message(id: id, queue: queue, payload: Array(id.utf8)))
                        break
                    } catch let e as MessageStoreError where e.kind == .duplicateId && retried {
                        break
                    } catch let e as MessageStoreError where e.kind == .unavailable {
                        retries += 1
                        retried = true
                        try? await Task.sleep(for: .milliseconds(50))
                    } catch {
                        failure = "add \(id) failed with something other than .unavailable: \(error)"
                        return
                    }
                }
                acknowledged.append(id)
                n += 1
            }
        }
    }

    @Test("Primary stopped, standby promoted: the multi-host store carries on and loses no acknowledged add",
          .enabled(if: primaryURL != nil && standbyURL != nil, "needs STRATA_POSTGRES_URL and STRATA_POSTGRES_STANDBY_URL (make test)"))
    func failoverLosesNoAcknowledgedMessage() async throws {
        let primary = try Self.split(Self.primaryURL ?? "")
        let standby = try Self.split(Self.standbyURL ?? "")
        let url = primary.prefix + primary.hostPort + "," + standby.hostPort + primary.path
        print("failover: store URL \(url)")
        var configuration = try MessageStoreConfiguration(url: url)
        configuration.postgresTablePrefix = "failover\(UInt32.random(in: 0 ... .max))_"
        let store = try await configuration.open()
        let queue = "failover"
        try await store.createQueue(queue, settings: QueueSettings(lockDuration: .seconds(30)))

        let writer = Writer(store: store, queue: queue)
        let writing = Task { await writer.run() }
        func acknowledged() async -> Int { await writer.acknowledged.count }
        func waitFor(_ count: Int, _ what: String) async throws {
            let deadline = ContinuousClock.now + .seconds(60)
            while await acknowledged() < count {
                if let f = await writer.failure { Issue.record("\(f)"); return }
                guard ContinuousClock.now < deadline else {
                    Issue.record("\(what): \(await acknowledged()) adds acknowledged, waited for \(count)")
                    return
                }
                try await Task.sleep(for: .milliseconds(20))
            }
        }
        try await waitFor(50, "before the failover")
        let beforeFailover = await acknowledged()
        try Self.script("stop-primary")
        try Self.script("promote")
        let atPromotion = await acknowledged()
        // The store must find the promoted standby by itself and go on.
        try await waitFor(atPromotion + 50, "after the promotion")
        await writer.stop()
        await writing.value
        if let f = await writer.failure { Issue.record("\(f)") }
        let acked = await writer.acknowledged
        print("failover: \(beforeFailover) adds acknowledged before the primary stopped, \(acked.count) in all, "
              + "\(await writer.retries) retries of .unavailable")
        #expect(acked.count >= atPromotion + 50)

        // Every acknowledged add is on the new primary, read through the
        // same store and through a store on the promoted server alone.
        let stored = Set(try await store.pending(queue: queue, limit: 1 << 20).map(\.id))
        let missing = acked.filter { !stored.contains($0) }
        #expect(missing.isEmpty, "acknowledged but lost in the failover: \(missing.prefix(10))")
        var direct = try MessageStoreConfiguration(url: Self.standbyURL ?? "")
        direct.postgresTablePrefix = configuration.postgresTablePrefix
        let promoted = try await direct.open()
        let onPromoted = Set(try await promoted.pending(queue: queue, limit: 1 << 20).map(\.id))
        #expect(acked.allSatisfy(onPromoted.contains), "the promoted server lacks acknowledged adds")
        try await promoted.close()

        // And the store still delivers: receive and complete on the new primary.
        let got = try await store.receive(queue: queue, limit: 10, lockDuration: nil)
        #expect(got.count == 10)
        try await store.complete(got.map(\.lockToken))
        #expect(try await store.pending(queue: queue, limit: 1 << 20).count == stored.count - 10)
        try await store.close()
    }
}
