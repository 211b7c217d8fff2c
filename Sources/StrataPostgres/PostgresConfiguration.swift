import Foundation
import PostgresNIO
import StrataMessageCore

/// Where and how a `PostgresMessageStore` that runs its own client connects.
public struct PostgresConfiguration: Sendable {
    /// `postgresql://user[:password]@host[:port][,host2[:port2]…]/database`
    /// (several hosts: the store uses the one that is not in recovery, and
    /// looks again after a connection loss), or the key/value form
    /// `host=h1,h2 port=p1,p2 user=u password=… dbname=d`. TLS is off.
    public var connectionString: String
    /// Connections the store's client keeps at most (one more listens for
    /// notifications).
    public var poolSize: Int = 8
    /// Prefix of the store's table names (letters, digits, `_`), so several
    /// stores can share one database.
    public var tablePrefix: String = "strata_"
    /// How long a call waits for a connection before it is `.unavailable`
    /// (the server is down or unreachable).
    public var connectionWait: Duration = .seconds(30)

    /// A configuration for `connectionString`.
    public init(connectionString: String, poolSize: Int = 8, tablePrefix: String = "strata_", connectionWait: Duration = .seconds(30)) {
        self.connectionString = connectionString
        self.poolSize = poolSize
        self.tablePrefix = tablePrefix
        self.connectionWait = connectionWait
    }
}

/// A parsed connection string: the candidate hosts and the credentials.
/// Its `description` never shows the password.
struct PostgresEndpoints: Sendable, CustomStringConvertible {
    var hosts: [(host: String, port: Int)]
    var user: String
    var password: String?
    var database: String?

    init(_ s: String) throws {
        if s.hasPrefix("postgresql://") || s.hasPrefix("postgres://") {
            try self.init(url: s)
        } else {
            try self.init(keyValue: s)
        }
        guard !hosts.isEmpty else { throw Self.bad(s) }
    }

    private static func bad(_ s: String) -> MessageStoreError {
        MessageStoreError(.invalidArgument, "not a postgresql://user@host[:port][,host:port…]/database URL nor host=… user=… dbname=…: \(PostgresRedaction.redacted(s))")
    }

    private init(url s: String) throws {
        var rest = Substring(s[s.range(of: "://")!.upperBound...])
        if let q = rest.firstIndex(of: "?") { rest = rest[..<q] }
        var db: Substring = ""
        if let slash = rest.firstIndex(of: "/") {
            db = rest[rest.index(after: slash)...]
            rest = rest[..<slash]
        }
        guard let at = rest.lastIndex(of: "@") else { throw Self.bad(s) }
        let userInfo = rest[..<at]
        let hostList = rest[rest.index(after: at)...]
        if let colon = userInfo.firstIndex(of: ":") {
            user = String(userInfo[..<colon]).removingPercentEncoding ?? String(userInfo[..<colon])
            let p = userInfo[userInfo.index(after: colon)...]
            password = String(p).removingPercentEncoding ?? String(p)
        } else {
            user = String(userInfo).removingPercentEncoding ?? String(userInfo)
            password = nil
        }
        guard !user.isEmpty else { throw Self.bad(s) }
        database = db.isEmpty ? nil : (String(db).removingPercentEncoding ?? String(db))
        hosts = try hostList.split(separator: ",").map { h in
            if let colon = h.lastIndex(of: ":") {
                guard let port = Int(h[h.index(after: colon)...]), (1...65535).contains(port), colon > h.startIndex else { throw Self.bad(s) }
                return (String(h[..<colon]), port)
            }
            guard !h.isEmpty else { throw Self.bad(s) }
            return (String(h), 5432)
        }
    }

    private init(keyValue s: String) throws {
        var values: [String: String] = [:]
        for pair in s.split(separator: " ", omittingEmptySubsequences: true) {
            guard let eq = pair.firstIndex(of: "=") else { throw Self.bad(s) }
            values[String(pair[..<eq])] = String(pair[pair.index(after: eq)...])
        }
        guard let u = values["user"], let h = values["host"] else { throw Self.bad(s) }
        user = u
        password = values["password"]
        database = values["dbname"]
        let names = h.split(separator: ",").map(String.init)
        let ports = (values["port"] ?? "").split(separator: ",").map { Int($0) }
        hosts = try names.enumerated().map { i, name in
            guard i < ports.count || ports.count <= 1 else { throw Self.bad(s) }
            let p = ports.isEmpty ? 5432 : (i < ports.count ? ports[i] : ports[0])
            guard let p else { throw Self.bad(s) }
            return (name, p)
        }
    }

    /// The client configuration for host number `i`.
    func clientConfiguration(_ i: Int, poolSize: Int) -> PostgresClient.Configuration {
        var c = PostgresClient.Configuration(host: hosts[i].host, port: hosts[i].port, username: user, password: password,
                                             database: database, tls: .disable)
        c.options.maximumConnections = max(1, poolSize) + 1
        c.options.connectTimeout = .seconds(5)
        return c
    }

    var description: String {
        "postgresql://\(user)@\(hosts.map { "\($0.host):\($0.port)" }.joined(separator: ","))/\(database ?? "")"
    }
}

/// Keeps passwords out of every message the store produces.
enum PostgresRedaction {
    /// `s` with a URL's password (`user:secret@`) and a key/value
    /// `password=…` replaced by `***`.
    static func redacted(_ s: String) -> String {
        s.replacingOccurrences(of: #"(://[^:/@\s]*):[^@\s]*@"#, with: "$1:***@", options: .regularExpression)
            .replacingOccurrences(of: #"password=[^\s]*"#, with: "password=***", options: .regularExpression)
    }

    /// `s` with every occurrence of `secret` (and the patterns above) replaced.
    static func redacted(_ s: String, secret: String?) -> String {
        var s = redacted(s)
        if let secret, !secret.isEmpty { s = s.replacingOccurrences(of: secret, with: "***") }
        return s
    }
}
