import Foundation
import Logging
import PostgresNIO
import StrataPostgres
import StrataTestSupport

/// What the PostgreSQL-only suites share: the server `make test` started
/// (`STRATA_POSTGRES_URL`), a raw client on it, and a throwaway server that
/// a test may stop.
enum PostgresTestServer {
    static var url: String? { ProcessInfo.processInfo.environment["STRATA_POSTGRES_URL"] }
    static var available: Bool { url != nil }

    static func prefix(_ what: String) -> String { "\(what)\(UInt32.random(in: 0 ... .max))_" }

    /// Host, port, user and database of `STRATA_POSTGRES_URL`.
    static func clientConfiguration() throws -> PostgresClient.Configuration {
        guard let url, let u = URLComponents(string: url), let host = u.host, let user = u.user else {
            throw CocoaError(.featureUnsupported)
        }
        let db = u.path.hasPrefix("/") ? String(u.path.dropFirst()) : u.path
        return PostgresClient.Configuration(host: host, port: u.port ?? 5432, username: user, password: u.password,
                                            database: db.isEmpty ? nil : db, tls: .disable)
    }

    /// Runs `body` with a client of the test server, running for its duration.
    static func withClient<T>(_ body: (PostgresClient) async throws -> T) async throws -> T {
        let client = PostgresClient(configuration: try clientConfiguration())
        let runner = Task { await client.run() }
        defer { runner.cancel() }
        return try await body(client)
    }

    /// Runs each statement on `client`.
    static func sql(_ client: PostgresClient, _ statements: String...) async throws {
        for s in statements { try await client.query(PostgresQuery(unsafeSQL: s)) }
    }
}

/// A PostgreSQL server of its own on a Unix socket only (no TCP port), in a
/// temporary directory, for a test that stops it.
final class ThrowawayPostgres: @unchecked Sendable {  // used by one test task
    let dir: String
    let port = 54414
    private let bin: String

    init() throws {
        dir = NSTemporaryDirectory() + "strata-pg-throwaway-\(UUID().uuidString.prefix(8))"
        let root = "/usr/lib/postgresql"
        guard let v = try FileManager.default.contentsOfDirectory(atPath: root).sorted().last else { throw CocoaError(.fileNoSuchFile) }
        bin = "\(root)/\(v)/bin"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        if getuid() == 0 { try Self.run("/bin/chown", ["postgres", dir]) }
        try asOwner("initdb", ["-D", dir + "/data", "-A", "trust", "-U", "strata"])
        try start()
    }

    func start() throws {
        try asOwner("pg_ctl", ["-D", dir + "/data", "-l", dir + "/server.log", "-w",
                               "-o", "-p \(port) -k \(dir) -c listen_addresses=''", "start"])
    }

    func stop() throws { try asOwner("pg_ctl", ["-D", dir + "/data", "-m", "immediate", "-w", "stop"]) }

    func remove() {
        try? stop()
        try? FileManager.default.removeItem(atPath: dir)
    }

    var clientConfiguration: PostgresClient.Configuration {
        PostgresClient.Configuration(unixSocketPath: "\(dir)/.s.PGSQL.\(port)", username: "strata", password: nil, database: "postgres")
    }

    /// Runs `body` with a fresh throwaway server and a running client of
    /// it; the client stops, then the server goes, when `body` returns.
    /// initdb and pg_ctl block, so the server starts off the cooperative pool.
    static func withClient<T>(_ body: (ThrowawayPostgres, PostgresClient) async throws -> T) async throws -> T {
        let server = try await offCooperativePool { try ThrowawayPostgres() }
        defer { server.remove() }
        let client = PostgresClient(configuration: server.clientConfiguration)
        let runner = Task { await client.run() }
        defer { runner.cancel() }
        return try await body(server, client)
    }

    private func asOwner(_ tool: String, _ args: [String]) throws {
        if getuid() == 0 {
            try Self.run("/usr/sbin/runuser", ["-u", "postgres", "--", "\(bin)/\(tool)"] + args)
        } else {
            try Self.run("\(bin)/\(tool)", args)
        }
    }

    /// posix_spawn and waitpid (Foundation's Process can miss the exit of a
    /// child whose own child, the server, keeps running).
    private static func run(_ path: String, _ args: [String]) throws {
        let argv = ([path] + args).map { strdup($0) } + [nil]
        defer { for a in argv { free(a) } }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        var pid: pid_t = 0
        guard posix_spawn(&pid, path, &actions, nil, argv, environ) == 0 else { throw CocoaError(.executableLoad) }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        guard status == 0 else {
            throw NSError(domain: "ThrowawayPostgres", code: Int(status), userInfo: [NSLocalizedDescriptionKey: "\(path) \(args) failed"])
        }
    }
}
