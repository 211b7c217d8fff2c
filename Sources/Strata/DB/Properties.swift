import Foundation

/// `Database.property(_:)`: human- and machine-readable state.
extension DBCore {
    /// Level and memtable figures are `family`'s (nil = default); the
    /// statistics in `strata.stats` are database-wide. A dropped or foreign
    /// family has no properties (nil).
    func property(_ name: String, in family: ColumnFamily? = nil) -> String? {
        guard let cf = try? resolve(family) else { return nil }
        let sv = cf.superVersion
        let version = sv.version
        let prefix = "strata.num-files-at-level"
        if name.hasPrefix(prefix) {
            guard let level = Int(name.dropFirst(prefix.count)), level >= 0, level < version.files.count else { return nil }
            return String(version.files[level].count)
        }
        switch name {
        case "strata.estimate-num-keys":
            var n = UInt64(sv.mem.entryCount) + UInt64(sv.imm?.entryCount ?? 0)
            for level in version.files { for f in level { n += f.numEntries } }
            return String(n)
        case "strata.last-sequence":
            return String(lastSequence.load(ordering: .acquiring))
        case "strata.num-running-compactions":
            return String(mu.withHeld { compactions.state($0).jobs.running })
        case "strata.background-error":
            return mu.withHeld { guarded($0).bgError?.description } ?? ""
        case "strata.block-cache-usage":
            return String(blockCache?.usage ?? 0)
        case "strata.total-sst-files-size":
            return String(version.files.reduce(UInt64(0)) { sum, level in level.reduce(sum) { $0 + $1.size } })
        case "strata.levelstats":
            return levelStats(version)
        case "strata.stats":
            return statsReport(sv)
        default:
            return nil
        }
    }

    /// LevelDB's "Level Files Size(MB)" table.
    private func levelStats(_ version: Version) -> String {
        var out = "Level Files Size(MB)\n--------------------\n"
        for (level, files) in version.files.enumerated() {
            let size = files.reduce(UInt64(0)) { $0 + $1.size }
            out += pad(String(level), 5) + " " + pad(String(files.count), 5) + " " + pad(fixed(mb(size), 2), 8) + "\n"
        }
        return out
    }

    /// RocksDB-style compaction stats per level, then amplification, stalls,
    /// caches, bloom filters and latency percentiles.
    private func statsReport(_ sv: SuperVersion) -> String {
        let version = sv.version
        let s = statistics.snapshot()
        let jobs = mu.withHeld { held in
            let j = compactions.state(held).jobs
            return (running: j.running, most: j.maxConcurrentJobs)
        }
        // Per-level W-Amp is shown once users have written something (a
        // reopened database's recovery flush alone has no user bytes).
        let user: Double? = s.userBytesWritten == 0 ? nil : Double(s.userBytesWritten)
        var out = "** Compaction Stats **\n"
        out += "Level  Files  Size(MB)  Score  Read(GB)  Write(GB)  W-Amp  Comp(cnt)  Comp(sec)\n"
        out += String(repeating: "-", count: 82) + "\n"
        var totalFiles = 0
        var totalSize: UInt64 = 0
        var totalRead: UInt64 = 0
        var totalWrite: UInt64 = 0
        var totalCount: UInt64 = 0
        var totalNanos: UInt64 = 0
        for (level, files) in version.files.enumerated() {
            let size = files.reduce(UInt64(0)) { $0 + $1.size }
            let c = level < s.levels.count ? s.levels[level] : LevelCompactionStatistics(level: level, compactions: 0, bytesRead: 0, bytesWritten: 0, nanoseconds: 0)
            let written = c.bytesWritten + (level == 0 ? s.flushBytesWritten : 0)
            guard level == 0 || !files.isEmpty || written > 0 || c.bytesRead > 0 else { continue }
            totalFiles += files.count
            totalSize += size
            totalRead += c.bytesRead
            totalWrite += written
            totalCount += c.compactions
            totalNanos += c.nanoseconds
            out += statsRow("L\(level)", files: files.count, size: size,
                            score: fixed(CompactionScore(options: options).score(level: level, fileCount: files.count, bytes: size), 2),
                            read: c.bytesRead, written: written, user: user, count: c.compactions, nanos: c.nanoseconds)
        }
        out += statsRow("Sum", files: totalFiles, size: totalSize, score: "-", read: totalRead, written: totalWrite,
                        user: user, count: totalCount, nanos: totalNanos)
        out += "W-Amp: bytes written into the level / user bytes written; Read: compaction input\n\n"

        out += "Write amplification: \(fixed(s.writeAmplification, 2)) (user \(fixed(mb(s.userBytesWritten), 1)) MB, "
            + "WAL \(fixed(mb(s.walBytesWritten), 1)) MB, flush \(fixed(mb(s.flushBytesWritten), 1)) MB, "
            + "compaction \(fixed(mb(s.compactionBytesWritten), 1)) MB)\n"
        out += "Read amplification: \(fixed(s.readAmplification, 3)) table blocks read from disk per get "
            + "(\(fixed(s.bytesReadPerGet, 1)) bytes per get, \(s.gets) gets)\n"
        out += "Writes: \(s.writeBatches) batches in \(s.writeGroups) groups (\(s.syncedGroups) synced); "
            + "flushes: \(s.flushes); compactions: \(s.compactions) (\(jobs.running) running now, "
            + "at most \(jobs.most) at once on \(compactionThreadCount) threads)\n"
        out += "Stalls: \(s.stalls), \(fixed(Double(s.stallNanoseconds) / 1e9, 3)) s\n"
        out += "Block cache: \(s.blockCacheUsage)/\(s.blockCacheCapacity) bytes, hit rate \(percent(s.blockCacheHitRate)) "
            + "(\(s.blockCacheHits) hits, \(s.blockCacheMisses) misses)\n"
        out += "Table cache: \(s.openTables) open, hit rate \(percent(s.tableCacheHitRate)) "
            + "(\(s.tableCacheHits) hits, \(s.tableCacheMisses) misses)\n"
        out += "Bloom filter: \(s.bloomFilterChecked) checked, \(s.bloomFilterUseful) useful (\(percent(s.bloomFilterUsefulRate)))\n"
        out += "Memtable: \(sv.mem.entryCount) entries, \(sv.mem.approximateMemoryUsage) bytes"
            + (sv.imm != nil ? "; one memtable being flushed\n" : "\n")
        out += "\nLatency (us)          count        p50        p95        p99        max\n"
        for (op, l) in [("get", s.getLatency), ("write", s.writeLatency), ("iterator-create", s.iteratorCreateLatency)] {
            out += pad(op, 16, left: false) + pad(String(l.count), 11) + micros(l.p50Nanoseconds) + micros(l.p95Nanoseconds)
                + micros(l.p99Nanoseconds) + micros(l.maxNanoseconds) + "\n"
        }
        return out
    }

    private func statsRow(_ name: String, files: Int, size: UInt64, score: String, read: UInt64, written: UInt64,
                          user: Double?, count: UInt64, nanos: UInt64) -> String {
        pad(name, 5) + pad(String(files), 7) + pad(fixed(mb(size), 2), 10) + pad(score, 7)
            + pad(fixed(gb(read), 3), 10) + pad(fixed(gb(written), 3), 11) + pad(user.map { fixed(Double(written) / $0, 2) } ?? "-", 7)
            + pad(String(count), 11) + pad(fixed(Double(nanos) / 1e9, 2), 11) + "\n"
    }
}

private func mb(_ bytes: UInt64) -> Double { Double(bytes) / 1_048_576 }
private func gb(_ bytes: UInt64) -> Double { Double(bytes) / 1_073_741_824 }
private func fixed(_ v: Double, _ decimals: Int) -> String { String(format: "%.\(decimals)f", v) }
private func percent(_ v: Double) -> String { fixed(v * 100, 2) + "%" }
private func micros(_ ns: UInt64) -> String { pad(fixed(Double(ns) / 1000, 2), 11) }
private func pad(_ s: String, _ width: Int, left: Bool = true) -> String {
    let n = max(0, width - s.count)
    return left ? String(repeating: " ", count: n) + s : s + String(repeating: " ", count: n)
}
