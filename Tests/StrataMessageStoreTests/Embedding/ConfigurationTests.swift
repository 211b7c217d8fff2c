import Foundation
import StrataMessageStore
import Testing

@Suite struct ConfigurationTests {
    @Test func everyURLForm() throws {
        #expect(try MessageStoreConfiguration(url: "memory:").backend == .memory)
        let lsm = try MessageStoreConfiguration(url: "lsm:./data/store")
        #expect(lsm.backend == .lsm && lsm.path == "./data/store")
        #expect(try MessageStoreConfiguration(url: "lsm:///abs/store").path == "/abs/store")
        let sqlite = try MessageStoreConfiguration(url: "sqlite:./data/store.db")
        #expect(sqlite.backend == .sqlite && sqlite.path == "./data/store.db")
        let json = try MessageStoreConfiguration(url: "json:./data/dir")
        #expect(json.backend == .json && json.path == "./data/dir")
        let pg = try MessageStoreConfiguration(url: "postgresql://strata@127.0.0.1:5432/broker")
        #expect(pg.backend == .postgres && pg.connectionString == "postgresql://strata@127.0.0.1:5432/broker")
        #expect(try MessageStoreConfiguration(url: "postgres://u@h/db").backend == .postgres)
        for c in [lsm, sqlite, json, pg] { #expect(try MessageStoreConfiguration(url: c.url) == c) }
    }

    /// `table_prefix` in a PostgreSQL URL picks the tables and is not sent
    /// to the server; `url` gives it back.
    @Test func aPostgresURLCarriesItsTablePrefix() throws {
        let pg = try MessageStoreConfiguration(url: "postgresql://u@h:5432/db?sslmode=disable&table_prefix=broker2_")
        #expect(pg.connectionString == "postgresql://u@h:5432/db?sslmode=disable")
        #expect(pg.postgresTablePrefix == "broker2_")
        #expect(pg.url == "postgresql://u@h:5432/db?sslmode=disable&table_prefix=broker2_")
        #expect(try MessageStoreConfiguration(url: pg.url) == pg)
        let only = try MessageStoreConfiguration(url: "postgres://u@h/db?table_prefix=x_")
        #expect(only.connectionString == "postgres://u@h/db" && only.postgresTablePrefix == "x_")
        #expect(try MessageStoreConfiguration(url: "postgres://u@h/db").url == "postgres://u@h/db")
        #expect(throws: MessageStoreConfigurationError.self) {
            _ = try MessageStoreConfiguration.load(url: "postgres://u@h/db?table_prefix=bad-prefix")
        }
    }

    /// A command line's `--store` wins over STRATA_STORE and the file; the
    /// other settings still come from them; a URL's table prefix wins over
    /// STRATA_POSTGRES_TABLE_PREFIX.
    @Test func anArgumentURLWinsOverEnvironmentAndFile() throws {
        let env = ["STRATA_STORE": "sqlite:/env.db", "STRATA_COMMIT_MODE": "memory_only", "STRATA_POSTGRES_TABLE_PREFIX": "env_"]
        let c = try MessageStoreConfiguration.load(environment: env, url: "lsm:/arg")
        #expect(c.backend == .lsm && c.path == "/arg" && c.commitMode == .memoryOnly)
        #expect(try MessageStoreConfiguration.load(environment: env).path == "/env.db")
        let pg = try MessageStoreConfiguration.load(environment: env, url: "postgresql://u@h/db?table_prefix=arg_")
        #expect(pg.postgresTablePrefix == "arg_")
        #expect(try MessageStoreConfiguration.load(environment: env, url: "postgresql://u@h/db").postgresTablePrefix == "env_")
        #expect {
            _ = try MessageStoreConfiguration.load(environment: env, url: "ftp://x")
        } throws: { e in (e as? MessageStoreConfigurationError)?.setting == "--store" }
    }

    @Test(arguments: ["", "lsm", "lsm:", "redis://x", "memory:/x", "postgresql:db", "sqlite://"])
    func badURLsNameTheURL(url: String) throws {
        #expect {
            _ = try MessageStoreConfiguration(url: url)
        } throws: { e in
            guard let e = e as? MessageStoreConfigurationError else { return false }
            return e.setting == "url" && e.value == url && "\(e)".contains("'\(url)'")
        }
    }

    @Test func environmentOverridesFileOverridesDefaults() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = dir + "/strata.yaml"
        try """
            broker:
              port: 5672          # not ours: ignored
            storage:
              type: sqlite
              sqlite:
                path: \(dir)/store.db
              commit_mode: async_durable
              group_window_ms: 7
              cache_budget: 16MiB
              json:
                backup_count: 2
            """.write(toFile: file, atomically: true, encoding: .utf8)
        let defaults = try MessageStoreConfiguration.load(environment: [:])
        #expect(defaults.url == MessageStoreConfiguration.defaultURL && defaults.commitMode == .syncDurable)
        let fromFile = try MessageStoreConfiguration.load(file: file, environment: [:])
        #expect(fromFile.backend == .sqlite && fromFile.path == dir + "/store.db")
        #expect(fromFile.commitMode == .asyncDurable(groupWindow: .milliseconds(7)))
        #expect(fromFile.cacheBudgetBytes == 16 << 20 && fromFile.jsonBackupCount == 2)
        let env = try MessageStoreConfiguration.load(file: file, environment: [
            "STRATA_STORE": "json:\(dir)/j", "STRATA_COMMIT_MODE": "sync_durable", "STRATA_CACHE_BUDGET": "1048576", "HOME": "/x",
        ])
        #expect(env.backend == .json && env.path == dir + "/j" && env.commitMode == .syncDurable)
        #expect(env.cacheBudgetBytes == 1 << 20 && env.jsonBackupCount == 2)
    }

    @Test func jsonFilesAndStorageURLWork() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = dir + "/strata.json"
        try #"{"storage": {"url": "memory:", "commit_mode": "memory_only", "lsm": {"recent_per_queue": 9}}}"#
            .write(toFile: file, atomically: true, encoding: .utf8)
        let c = try MessageStoreConfiguration.load(file: file, environment: [:])
        #expect(c.backend == .memory && c.commitMode == .memoryOnly && c.recentPerQueue == 9)
    }

    @Test func badSettingsAreOneErrorNamingSettingAndValue() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        func failure(_ yaml: String?, _ env: [String: String] = [:]) -> MessageStoreConfigurationError? {
            var file: String?
            if let yaml {
                file = dir + "/c-\(UUID().uuidString).yaml"
                try? yaml.write(toFile: file!, atomically: true, encoding: .utf8)
            }
            do {
                _ = try MessageStoreConfiguration.load(file: file, environment: env)
                return nil
            } catch { return error as? MessageStoreConfigurationError }
        }
        let mode = failure(nil, ["STRATA_COMMIT_MODE": "fast"])
        #expect(mode?.setting == "STRATA_COMMIT_MODE" && mode?.value == "fast" && mode?.source == "environment")
        let budget = failure("storage:\n  cache_budget: lots\n")
        #expect(budget?.setting == "storage.cache_budget" && budget?.value == "lots" && budget?.source.hasSuffix(":2") == true)
        #expect(failure("storage:\n  snapshot_interval_seconds: 60\n")?.setting == "storage.snapshot_interval_seconds")
        #expect(failure("storage:\n  sqlite:\n    wal: true\n")?.setting == "storage.sqlite.wal")
        #expect(failure("storage:\n  type: redis\n")?.value == "redis")
        #expect(failure("storage:\n  type: postgres\n")?.setting == "storage.type")
        #expect(failure("storage:\n  url: memory:\n  type: lsm\n") != nil)
        #expect(failure("storage: [1, 2]\n")?.setting == "storage")
        #expect(failure("storage:\n  group_window_ms: 5\n")?.setting == "storage.group_window_ms")  // needs async_durable
        #expect(failure(nil, ["STRATA_JSON_BACKUP_COUNT": "-1"])?.setting == "STRATA_JSON_BACKUP_COUNT")
        #expect(failure(nil, ["STRATA_STORE": "nope"])?.setting == "STRATA_STORE")
        #expect(failure("storage: {url: [unclosed\n")?.setting == "file")
        let missing = try? MessageStoreConfiguration.load(file: dir + "/absent.yaml", environment: [:])
        #expect(missing == nil)
    }

    @Test(arguments: ["memory:", "lsm:", "sqlite:", "json:"])
    func openGivesAWorkingStoreOnEveryBackend(scheme: String) async throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let url = scheme == "memory:" ? scheme : scheme + dir + "/store"
        let store: any MessageStore = try await MessageStoreConfiguration(url: url).open()
        try await store.initialize()
        try await store.add(Message(id: "m", queue: "q", payload: [1]))
        #expect(try await store.pending(queue: "q", limit: 10).map(\.id) == ["m"])
        #expect(try await store.allQueueNames() == ["q"])
        try await store.close()
        if scheme != "memory:" {
            let reopened = try await MessageStoreConfiguration.load(environment: ["STRATA_STORE": url]).open()
            #expect(try await reopened.get(id: "m")?.payload == [1])
            try await reopened.close()
        }
    }

    @Test(.enabled(if: ProcessInfo.processInfo.environment["STRATA_POSTGRES_URL"] != nil))
    func openReachesPostgreSQL() async throws {
        var c = try MessageStoreConfiguration(url: ProcessInfo.processInfo.environment["STRATA_POSTGRES_URL"] ?? "")
        c.postgresTablePrefix = "cfg\(UInt32.random(in: 0 ... .max))_"
        c.postgresConnectionWait = .seconds(180)  // a live server: bounds a hang (see Backend.make)
        let store = try await c.open()
        try await store.add(Message(id: "m", queue: "q", payload: [1]))
        #expect(try await store.allQueueNames() == ["q"])
        try await store.close()
    }
}

/// `storage.lock_duration` / `STRATA_LOCK_DURATION`: the lock a receive
/// naming no duration takes, on every backend.
extension ConfigurationTests {
    @Test func lockDurationEnvironmentOverridesFileOverridesDefault() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = dir + "/strata.yaml"
        try "storage:\n  type: memory\n  lock_duration: 45s\n".write(toFile: file, atomically: true, encoding: .utf8)
        #expect(try MessageStoreConfiguration.load(environment: [:]).lockDuration == nil)
        #expect(try MessageStoreConfiguration.load(file: file, environment: [:]).lockDuration == .seconds(45))
        #expect(try MessageStoreConfiguration.load(file: file, environment: ["STRATA_LOCK_DURATION": "500ms"]).lockDuration == .milliseconds(500))
        for (text, d) in [("2m", Duration.seconds(120)), ("1h", .seconds(3600)), ("250", .milliseconds(250)), (" 30 s ", .seconds(30))] {
            #expect(try MessageStoreConfiguration.load(environment: ["STRATA_LOCK_DURATION": text]).lockDuration == d, "\(text)")
        }
    }

    @Test(arguments: ["soon", "0s", "-5s", "5 days", "30ss", "87600001h", ""])
    func aBadLockDurationIsOneErrorNamingSettingAndValue(text: String) throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = dir + "/strata.yaml"
        try "storage:\n  type: memory\n  lock_duration: '\(text)'\n".write(toFile: file, atomically: true, encoding: .utf8)
        #expect {
            _ = try MessageStoreConfiguration.load(file: file, environment: [:])
        } throws: { e in
            guard let e = e as? MessageStoreConfigurationError else { return false }
            return e.setting == "storage.lock_duration" && e.value == text && e.source.hasSuffix(":3") && "\(e)".contains("lock_duration")
        }
        if !text.isEmpty {  // an empty variable is an unset one
            #expect {
                _ = try MessageStoreConfiguration.load(environment: ["STRATA_LOCK_DURATION": text])
            } throws: { e in
                guard let e = e as? MessageStoreConfigurationError else { return false }
                return e.setting == "STRATA_LOCK_DURATION" && e.value == text && e.source == "environment"
            }
        }
        var c = MessageStoreConfiguration(backend: .memory)
        c.lockDuration = .zero
        #expect(throws: MessageStoreConfigurationError.self) { try c.validate() }
    }

    /// `storage.postgres.connection_wait` / `STRATA_POSTGRES_CONNECTION_WAIT`:
    /// how long a PostgreSQL call waits for a pooled connection.
    @Test func postgresConnectionWaitEnvironmentOverridesFileOverridesDefault() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = dir + "/strata.yaml"
        try "storage:\n  type: postgres\n  postgres:\n    url: postgresql://u@h/db\n    connection_wait: 2m\n"
            .write(toFile: file, atomically: true, encoding: .utf8)
        #expect(try MessageStoreConfiguration.load(url: "postgresql://u@h/db").postgresConnectionWait == .seconds(30))
        #expect(try MessageStoreConfiguration.load(file: file, environment: [:]).postgresConnectionWait == .seconds(120))
        let env = ["STRATA_POSTGRES_CONNECTION_WAIT": "1500ms"]
        #expect(try MessageStoreConfiguration.load(file: file, environment: env).postgresConnectionWait == .milliseconds(1500))
        for text in ["0s", "soon", "2h", "-1s"] {
            #expect {
                _ = try MessageStoreConfiguration.load(file: file, environment: ["STRATA_POSTGRES_CONNECTION_WAIT": text])
            } throws: { e in
                guard let e = e as? MessageStoreConfigurationError else { return false }
                return e.setting == "STRATA_POSTGRES_CONNECTION_WAIT" && e.value == text && e.source == "environment"
            }
        }
        try "storage:\n  type: postgres\n  postgres:\n    url: postgresql://u@h/db\n    connection_wait: forever\n"
            .write(toFile: file, atomically: true, encoding: .utf8)
        #expect {
            _ = try MessageStoreConfiguration.load(file: file, environment: [:])
        } throws: { e in
            guard let e = e as? MessageStoreConfigurationError else { return false }
            return e.setting == "storage.postgres.connection_wait" && e.value == "forever" && e.source.hasSuffix(":5")
        }
    }

    /// The opened store, a consumer and `messages(queue:)` lock for the
    /// configured duration when they name none (the queue's own lock is
    /// 30 s); an explicit duration still wins. The store's clock stands
    /// still, so the lock ends are exact.
    @Test(arguments: Backend.allCases)
    func theOpenedStoreAndItsConsumersUseTheConfiguredLockDuration(backend: Backend) async throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var c: MessageStoreConfiguration
        switch backend {
        case .memory: c = MessageStoreConfiguration(backend: .memory)
        case .lsm, .sqlite, .json: c = MessageStoreConfiguration(backend: MessageStoreConfiguration.Backend(rawValue: backend.rawValue)!, path: dir + "/store")
        case .postgres:
            c = try MessageStoreConfiguration(url: ProcessInfo.processInfo.environment["STRATA_POSTGRES_URL"] ?? "")
            c.postgresTablePrefix = Backend.tablePrefix(dir)
            c.postgresConnectionWait = .seconds(180)  // a live server: bounds a hang (see Backend.make)
        }
        c.lockDuration = .seconds(300)
        let clock = ManualClock()
        let store = try await c.open(clock: clock.clock)
        try await store.initialize()
        try await store.add(contentsOf: (0..<4).map { Message(id: "m\($0)", queue: "q", payload: [], timestamp: clock.now) })
        let fiveMinutes = clock.now.addingTimeInterval(300)
        #expect(try await store.receive(queue: "q", limit: 1, lockDuration: nil).first?.lockedUntil == fiveMinutes)
        #expect(try await store.receive(queue: "q", limit: 1, lockDuration: nil, maxWait: .seconds(1)).first?.lockedUntil == fiveMinutes)
        #expect(try await store.receive(queue: "q", limit: 1, lockDuration: .seconds(7)).first?.lockedUntil == clock.now.addingTimeInterval(7))

        var stream = store.messages(queue: "q", lockDuration: nil).makeAsyncIterator()
        let streamed = try await stream.next()
        #expect(streamed?.lockedUntil == fiveMinutes)
        if let streamed { try await store.abandon(streamed.lockToken) }

        let seen = Locked2<[Date]>([])
        let consumer = QueueConsumer(store: store, queue: "q") { (r: ReceivedMessage) in seen.with { $0.append(r.lockedUntil) } }
        let run = Task { try await consumer.run() }
        #expect(try await eventually { !seen.with { $0 }.isEmpty })
        run.cancel()
        try await run.value
        #expect(seen.with { $0 }.first == fiveMinutes)
        try await store.close()
    }
}
