import Foundation
import Yams

extension MessageStoreConfiguration {
    /// The defaults of `load(file:environment:)` when neither the file nor
    /// the environment names a store: the LSM store at `./data/store`.
    public static let defaultURL = "lsm:./data/store"

    /// The environment variables `load(file:environment:)` reads, each with
    /// the file key it overrides.
    public static let environmentVariables: [(variable: String, key: String)] = [
        ("STRATA_STORE", "storage.url"),
        ("STRATA_COMMIT_MODE", "storage.commit_mode"),
        ("STRATA_GROUP_WINDOW_MS", "storage.group_window_ms"),
        ("STRATA_CACHE_BUDGET", "storage.cache_budget"),
        ("STRATA_LOCK_DURATION", "storage.lock_duration"),
        ("STRATA_RECENT_PER_QUEUE", "storage.lsm.recent_per_queue"),
        ("STRATA_POSTGRES_POOL_SIZE", "storage.postgres.pool_size"),
        ("STRATA_POSTGRES_TABLE_PREFIX", "storage.postgres.table_prefix"),
        ("STRATA_POSTGRES_CONNECTION_WAIT", "storage.postgres.connection_wait"),
        ("STRATA_JSON_SAVE_INTERVAL_MS", "storage.json.save_interval_ms"),
        ("STRATA_JSON_BACKUP_COUNT", "storage.json.backup_count"),
        ("STRATA_JSON_PRETTY_PRINT", "storage.json.pretty_print"),
    ]

    /// The configuration an operator gives: defaults, overridden by the
    /// `storage:` section of `file` (YAML, or JSON, which YAML reads too;
    /// nil = no file), overridden by the `STRATA_*` variables of
    /// `environment`. Every bad key or value is one
    /// `MessageStoreConfigurationError` naming it; keys outside `storage:`
    /// belong to the broker and are ignored, unknown keys inside are refused.
    /// `url`, a store URL given on a command line (`--store`), wins over
    /// both; a `table_prefix` in the chosen URL wins over the
    /// `table_prefix` settings.
    public static func load(file: String? = nil, environment: [String: String] = [:], url: String? = nil) throws -> MessageStoreConfiguration {
        var layers: [Layer] = []
        if let file { layers.append(try Layer(file: file)) }
        layers.append(try Layer(environment: environment))
        if let url { layers.append(Layer(argument: url)) }
        var chosen: (url: String, setting: String, source: String)?
        var type: (Backend, setting: String, source: String)?
        var paths: [Backend: (String, String, String)] = [:]
        for layer in layers {
            if let u = layer.url { chosen = u; type = nil }
            if let t = layer.type { type = t; chosen = nil }
            for (b, p) in layer.paths { paths[b] = p }
        }
        var config: MessageStoreConfiguration
        if let chosen {
            config = try MessageStoreConfiguration(url: chosen.url, setting: chosen.setting, source: chosen.source)
        } else if let (backend, setting, source) = type {
            config = MessageStoreConfiguration(backend: backend)
            let given = paths[backend]
            switch backend {
            case .memory: break
            case .postgres:
                guard let (url, _, _) = given else {
                    throw MessageStoreConfigurationError(setting: setting, value: "postgres", source: source,
                                                         reason: "type postgres needs storage.postgres.url (or STRATA_STORE)")
                }
                config.connectionString = url
            case .lsm, .sqlite, .json:
                config.path = given?.0 ?? Self.defaultPaths[backend]!
            }
        } else {
            config = try MessageStoreConfiguration(url: defaultURL)
        }
        for layer in layers { try layer.apply(to: &config) }
        if let chosen, config.backend == .postgres, let prefix = splittingTablePrefix(chosen.url).tablePrefix {
            config.postgresTablePrefix = prefix
        }
        try config.validate()
        return config
    }

    static let defaultPaths: [Backend: String] = [.lsm: "./data/store", .sqlite: "./data/store.db", .json: "./data/json"]

    /// The settings one source gives (file or environment), each with the
    /// name and place it was written, for errors.
    struct Layer {
        typealias Value = (text: String, setting: String, source: String)
        var url: (url: String, setting: String, source: String)?
        var type: (MessageStoreConfiguration.Backend, setting: String, source: String)?
        /// Path (or PostgreSQL URL) per backend section.
        var paths: [MessageStoreConfiguration.Backend: (String, String, String)] = [:]
        var values: [String: Value] = [:]  // by file key without "storage."

        /// A store URL given as an argument (`--store`).
        init(argument url: String) {
            self.url = (url, "--store", "argument")
        }

        init(environment: [String: String]) throws {
            for (variable, key) in MessageStoreConfiguration.environmentVariables {
                guard let v = environment[variable], !v.isEmpty else { continue }
                if key == "storage.url" { url = (v, variable, "environment") } else {
                    values[String(key.dropFirst("storage.".count))] = (v, variable, "environment")
                }
            }
        }

        init(file: String) throws {
            func bad(_ setting: String, _ value: String, _ source: String, _ reason: String) -> MessageStoreConfigurationError {
                MessageStoreConfigurationError(setting: setting, value: value, source: source, reason: reason)
            }
            guard let data = FileManager.default.contents(atPath: file) else {
                throw bad("file", file, "argument", "cannot read the configuration file")
            }
            guard let text = String(data: data, encoding: .utf8) else { throw bad("file", file, "argument", "not UTF-8 text") }
            let root: Node?
            do { root = try Yams.compose(yaml: text) } catch {
                throw bad("file", file, "argument", "not YAML or JSON: \(error)")
            }
            guard let root else { return }  // an empty file sets nothing
            guard let top = root.mapping else { throw bad("file", file, file, "the top level must be a mapping with a storage: section") }
            guard let storageNode = top["storage"] else { return }
            func place(_ n: Node) -> String { n.mark.map { "\(file):\($0.line)" } ?? file }
            guard let storage = storageNode.mapping else {
                throw bad("storage", "\(storageNode.any)", place(storageNode), "must be a mapping")
            }
            let sections: [String: MessageStoreConfiguration.Backend] = [
                "lsm": .lsm, "sqlite": .sqlite, "postgres": .postgres, "postgresql": .postgres, "json": .json,
                "memory": .memory, "in-memory": .memory,
            ]
            let sectionKeys: [MessageStoreConfiguration.Backend: Set<String>] = [
                .lsm: ["path", "recent_per_queue"], .sqlite: ["path"], .postgres: ["url", "pool_size", "table_prefix", "connection_wait"],
                .json: ["path", "save_interval_ms", "backup_count", "pretty_print"], .memory: [],
            ]
            func scalar(_ n: Node, _ setting: String) throws -> String {
                guard let s = n.scalar?.string else { throw bad(setting, "\(n.any)", place(n), "must be a single value") }
                return s
            }
            for (k, v) in storage {
                guard let key = k.string else { throw bad("storage", "\(k.any)", place(k), "keys must be strings") }
                let setting = "storage." + key
                if let backend = sections[key] {
                    guard let section = v.mapping else { throw bad(setting, "\(v.any)", place(v), "must be a mapping") }
                    for (sk, sv) in section {
                        let name = sk.string ?? "\(sk.any)"
                        let sub = setting + "." + name
                        guard sectionKeys[backend]!.contains(name) else {
                            throw bad(sub, "\(sv.any)", place(sk), "unknown key (known: \(sectionKeys[backend]!.sorted().joined(separator: ", ")))")
                        }
                        let text = try scalar(sv, sub)
                        if name == "path" || (backend == .postgres && name == "url") {
                            paths[backend] = (text, sub, place(sv))
                        } else {
                            values["\(backend == .postgres ? "postgres" : key).\(name)"] = (text, sub, place(sv))
                        }
                    }
                    continue
                }
                let text = try scalar(v, setting)
                switch key {
                case "url": url = (text, setting, place(v))
                case "type":
                    guard let b = sections[text.lowercased()] else {
                        throw bad(setting, text, place(v), "unknown backend (memory, lsm, sqlite, postgres, json)")
                    }
                    type = (b, setting, place(v))
                case "commit_mode", "group_window_ms", "cache_budget", "lock_duration": values[key] = (text, setting, place(v))
                default:
                    throw bad(setting, text, place(k), "unknown key (known: url, type, commit_mode, group_window_ms, cache_budget, lock_duration, lsm, sqlite, postgres, json)")
                }
            }
            if url != nil, let type { throw bad(type.setting, type.0.rawValue, type.source, "give storage.url or storage.type, not both") }
        }

        /// Applies every non-location setting of this layer to `c`.
        func apply(to c: inout MessageStoreConfiguration) throws {
            func bad(_ v: Value, _ reason: String) -> MessageStoreConfigurationError {
                MessageStoreConfigurationError(setting: v.setting, value: v.text, source: v.source, reason: reason)
            }
            func int(_ key: String, _ range: ClosedRange<Int>) throws -> Int? {
                guard let v = values[key] else { return nil }
                guard let n = Int(v.text.trimmingCharacters(in: .whitespaces)), range.contains(n) else {
                    throw bad(v, "must be a whole number in \(range.lowerBound)...\(range.upperBound)")
                }
                return n
            }
            /// A duration setting from 1 ms to `longest`; `upTo` names that end in the error.
            func duration(_ key: String, atMost longest: Duration, upTo: String) throws -> Duration? {
                guard let v = values[key] else { return nil }
                guard let d = Self.duration(v.text), d >= .milliseconds(1), d <= longest else {
                    throw bad(v, "must be a duration from 1ms to \(upTo): milliseconds, or a number with ms, s, m or h (500ms, 30s, 5m)")
                }
                return d
            }
            if let v = values["commit_mode"] {
                switch v.text.lowercased().replacingOccurrences(of: "-", with: "_") {
                case "sync_durable", "sync": c.commitMode = .syncDurable
                case "async_durable", "async": c.commitMode = .asyncDurable(groupWindow: .milliseconds(2))
                case "memory_only", "memory": c.commitMode = .memoryOnly
                default: throw bad(v, "must be sync_durable, async_durable or memory_only")
                }
            }
            if let ms = try int("group_window_ms", 0...60_000) {
                guard case .asyncDurable = c.commitMode else {
                    throw bad(values["group_window_ms"]!, "applies only to commit_mode async_durable")
                }
                c.commitMode = .asyncDurable(groupWindow: .milliseconds(ms))
            }
            if let v = values["cache_budget"] {
                guard let bytes = Self.bytes(v.text) else { throw bad(v, "must be a size: bytes, or a number with KiB, MiB or GiB (binary; K, KB, M, MB, G, GB too)") }
                c.cacheBudgetBytes = bytes
            }
            if let d = try duration("lock_duration", atMost: QueueSettings.longest, upTo: "ten years") { c.lockDuration = d }
            if let n = try int("lsm.recent_per_queue", 0...1_000_000) { c.recentPerQueue = n }
            if let n = try int("postgres.pool_size", 1...1024) { c.postgresPoolSize = n }
            if let v = values["postgres.table_prefix"] { c.postgresTablePrefix = v.text }
            if let d = try duration("postgres.connection_wait", atMost: .seconds(3600), upTo: "1h") { c.postgresConnectionWait = d }
            if let ms = try int("json.save_interval_ms", 0...86_400_000) { c.jsonSaveInterval = .milliseconds(ms) }
            if let n = try int("json.backup_count", 0...100) { c.jsonBackupCount = n }
            if let v = values["json.pretty_print"] {
                switch v.text.lowercased() {
                case "true", "yes", "on", "1": c.jsonPrettyPrint = true
                case "false", "no", "off", "0": c.jsonPrettyPrint = false
                default: throw bad(v, "must be true or false")
                }
            }
        }

        /// `30s`, `500ms`, `5m`, `1h`, `250` (milliseconds, as the file's
        /// `_ms` keys): a whole number and a unit; nil when not one.
        static func duration(_ text: String) -> Duration? {
            let t = text.trimmingCharacters(in: .whitespaces).lowercased()
            let digits = t.prefix { $0.isNumber }
            guard !digits.isEmpty, digits.count <= 15, let n = Int64(digits) else { return nil }
            switch t.dropFirst(digits.count).trimmingCharacters(in: .whitespaces) {
            case "", "ms": return .milliseconds(n)
            case "s": return .seconds(n)
            case "m", "min": return .seconds(n * 60)
            case "h": return .seconds(n * 3600)
            default: return nil
            }
        }

        /// `64MiB`, `512k`, `1048576`: bytes (K, M and G are binary).
        static func bytes(_ text: String) -> Int? {
            let t = text.trimmingCharacters(in: .whitespaces).lowercased()
            let digits = t.prefix { $0.isNumber }
            guard !digits.isEmpty, let n = Int(digits) else { return nil }
            let unit = t.dropFirst(digits.count).trimmingCharacters(in: .whitespaces)
            let shift: Int
            switch unit {
            case "", "b": shift = 0
            case "k", "kb", "kib": shift = 10
            case "m", "mb", "mib": shift = 20
            case "g", "gb", "gib": shift = 30
            default: return nil
            }
            let (r, o) = n.multipliedReportingOverflow(by: 1 << shift)
            return o || r > 1 << 50 ? nil : r
        }
    }
}
