import Foundation
import Strata

/// Health, size and the engine's own figures, for operators and monitoring.
extension LSMMessageStore {
    /// Disk space at the store's directory; closed; the engine stopped after
    /// a background error (it is read-only then); the directory or its LOCK
    /// file gone (another process may open the store); with `verifyData`,
    /// every record of every family read back (block checksums checked).
    public func health(thresholds: HealthThresholds) async throws -> StoreHealth {
        var reasons: [HealthReason] = []
        if let disk = thresholds.diskReason(at: path) { reasons.append(disk) }
        let o: Opened
        do { o = try opened() } catch {
            reasons.append(HealthReason.from(error))
            return StoreHealth(reasons: reasons)
        }
        if let bg = o.db.property("strata.background-error"), !bg.isEmpty {
            reasons.append(HealthReason(.backgroundError, .critical, "the engine stopped writes (read-only) after: \(bg)"))
        }
        let fs = options.engine.fileSystem
        if !fs.fileExists(at: path + "/LOCK") {
            reasons.append(HealthReason(.connectionLost, .critical, "\(path)/LOCK is gone: the store's directory lock is lost"))
        }
        if thresholds.verifyData {
            do {
                try await offload { try Self.readEverything(o) }
            } catch {
                reasons.append(HealthReason(.corruption, .critical, "\(path): \(error)"))
            }
        }
        return StoreHealth(reasons: reasons)
    }

    /// Reads every record of the store's families and decodes the entity
    /// records, so damaged blocks or records surface as an error.
    static func readEverything(_ o: Opened) throws {
        _ = try loadCatalog(o)
        for family in [o.messages, o.ids, o.delivery, o.entities] {
            let it = try o.db.makeIterator(in: family)
            it.seekToFirst()
            while it.isValid {
                if family === o.messages { _ = try MessageCodec.decode(it.value) }
                it.next()
            }
            try it.checkStatus()
        }
    }

    /// Bytes of the store's directory (tables, logs, manifest).
    public func storageBytes() async throws -> Int64 {
        _ = try opened()
        return DiskSpace.size(of: path)
    }

    /// A property of the engine under the store (`Database.property`), for
    /// `family` = one of `messages`, `ids`, `delivery`, `entities` or nil
    /// (the default family; `strata.stats` is database-wide): e.g.
    /// `strata.stats`, `strata.num-files-at-level0`, `strata.background-error`.
    /// Nil for an unknown name or family, or a closed store.
    public func engineProperty(_ name: String, family: String? = nil) -> String? {
        guard let o = try? opened() else { return nil }
        if let family {
            guard let cf = o.db.columnFamily(family) else { return nil }
            return o.db.property(name, in: cf)
        }
        return o.db.property(name)
    }

    /// The engine's counters and latency histograms (`Database.statistics`),
    /// nil when the store is closed.
    public var engineStatistics: Statistics? { (try? opened())?.db.statistics }
}
