import Foundation
import Strata

/// `strata dump-manifest --db=PATH`: prints what the MANIFEST records —
/// counters, then per column family its id, name, options, log number and
/// the files of each non-empty level (number, size, entries, smallest and
/// largest keys shown as text when printable, else hex, with sequences).
/// Reads the files only; works on a database another process has open.
func runDumpManifest(_ args: [String]) {
    let flags = parseFlags(args, allowed: ["db"])
    guard let path = flags["db"] else { fail("--db=PATH is required", code: 2) }
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
        fail("no database at \(path)")
    }
    let summary: ManifestSummary
    do {
        summary = try ManifestSummary.read(databaseAt: path)
    } catch {
        fail("cannot read the MANIFEST of \(path): \(error)")
    }
    print("manifest: \(summary.manifestPath)")
    print("next file number: \(summary.nextFileNumber)")
    print("last sequence: \(summary.lastSequence)")
    print("max column family id: \(summary.maxColumnFamily)")
    print("log number (oldest needed): \(summary.families.map(\.logNumber).min() ?? 0)")
    for f in summary.families {
        let options = f.options.map(describe) ?? "options from the database's Options"
        print("column family \(f.id) \"\(f.name)\": comparator \(f.comparatorName); log number \(f.logNumber); \(options)")
        var any = false
        for (level, files) in f.levels.enumerated() where !files.isEmpty {
            any = true
            let bytes = files.reduce(UInt64(0)) { $0 + $1.size }
            print("  level \(level): \(files.count) files, \(bytes) bytes")
            for t in files {
                print("    #\(t.number) \(t.size) bytes, \(t.entries) entries, [\(display(t.smallestKey)) @\(t.smallestSequence) .. \(display(t.largestKey)) @\(t.largestSequence)]")
            }
        }
        if !any { print("  no table files") }
    }
}

private func describe(_ o: ColumnFamilyOptions) -> String {
    "compression=\(o.compression == .lz4 ? "lz4" : "none") blockSize=\(o.blockSize) bloomBitsPerKey=\(o.bloomBitsPerKey) writeBufferSize=\(o.writeBufferSize)"
}
