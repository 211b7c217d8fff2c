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
        case "strata.background-error":
            return mu.withLock { bgError?.description } ?? ""
        case "strata.stats":
            var out = "Level  Files  Size(MB)\n"
            for (level, files) in version.files.enumerated() {
                let size = files.reduce(UInt64(0)) { $0 + $1.size }
                out += "L\(level)     \(files.count)      \(String(format2(Double(size) / 1_048_576)))\n"
            }
            out += "memtable: \(sv.mem.entryCount) entries, \(sv.mem.approximateMemoryUsage) bytes"
            out += sv.imm != nil ? "; one memtable being flushed\n" : "\n"
            let s = statistics
            out += "writes: \(s.writeBatches) batches in \(s.writeGroups) groups (\(s.syncedGroups) synced), \(s.userBytesWritten) bytes\n"
            out += "flushes: \(s.flushes), \(s.flushBytesWritten) bytes; stall: \(s.stallDuration)\n"
            if let c = blockCache {
                out += "block cache: \(c.usage)/\(c.capacity) bytes, \(c.hits) hits, \(c.misses) misses\n"
            }
            return out
        default:
            return nil
        }
    }
}

/// Formats with two decimals without Foundation.
func format2(_ v: Double) -> String {
    let scaled = Int((v * 100).rounded())
    let frac = scaled % 100
    return "\(scaled / 100).\(frac < 10 ? "0" : "")\(frac)"
}
