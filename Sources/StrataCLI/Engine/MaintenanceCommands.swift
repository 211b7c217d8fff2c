import ArgumentParser
import Foundation
import Strata

/// `strata compact --db PATH [--from K] [--to K]`
struct CompactCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compact", abstract: "Compact a key range (default everything) of every column family down to the bottom level.")
    @OptionGroup var location: DatabaseLocation
    @Option(help: "First key of the range (included; default: the first key).") var from: String?
    @Option(help: "Last key of the range (included; default: the last key).") var to: String?
    @OptionGroup var progress: ProgressOptions

    func run() throws {
        let db = try location.openForWriting()
        defer { try? db.close() }
        let start = Date()
        let (lo, hi) = (from.map { Array($0.utf8) }, to.map { Array($0.utf8) })
        try failingSync("compact") {
            try withElapsedProgress(progress.reporter("compacting", unit: "")) {
                for family in db.columnFamilies { try db.compactRange(lo, hi, in: family) }
            }
        }
        let levels = (0..<7).map { db.property("strata.num-files-at-level\($0)") ?? "0" }.joined(separator: " ")
        print("compacted \(db.columnFamilies.count) column families in \(String(format: "%.2f", Date().timeIntervalSince(start))) s; files per level (default family): \(levels)")
    }
}

/// `strata checkpoint --db PATH --to PATH`
struct CheckpointCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "checkpoint", abstract: "Write an openable copy of the database (hard links where possible).")
    @OptionGroup var location: DatabaseLocation
    @Option(help: ArgumentHelp("Where the copy goes (must not exist).", valueName: "path"), completion: .directory) var to: String

    func run() throws {
        let db = try location.openForWriting()
        defer { try? db.close() }
        try failingSync("checkpoint") { try db.createCheckpoint(at: to) }
        print("checkpoint written to \(to)")
    }
}

/// `strata verify --db PATH`
struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify", abstract: "Read every block of every table of every column family, checking checksums (read-only open).")
    @OptionGroup var location: DatabaseLocation
    @OptionGroup var progress: ProgressOptions

    func run() throws {
        let db = try location.openForReading()
        defer { try? db.close() }
        let estimate = db.columnFamilies.reduce(UInt64(0)) { $0 + (db.property("strata.estimate-num-keys", in: $1).flatMap { UInt64($0) } ?? 0) }
        let bar = progress.reporter("verifying", unit: "keys")
        var n: UInt64 = 0
        try failingSync("verify") {
            for family in db.columnFamilies {
                let it = try db.makeIterator(in: family, options: ReadOptions(verifyChecksums: true, fillCache: false))
                it.seekToFirst()
                while it.isValid {
                    n += 1
                    if n & 0xFFF == 0 { bar.update(n, of: max(n, estimate)) }
                    it.next()
                }
                try it.checkStatus()
            }
        }
        bar.update(n, of: n)
        bar.finish()
        print("ok: \(n) keys in \(db.columnFamilies.count) column families, every block checksum verified")
    }
}

/// `strata dump-manifest --db PATH`
struct DumpManifestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dump-manifest",
        abstract: "List column families (id, name, options), levels and files, log number and counters, from the MANIFEST.",
        discussion: "Reads the files only; works on a database another process has open.")
    @OptionGroup var location: DatabaseLocation

    func run() throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: location.db, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw CLIError("no database at \(location.db)")
        }
        let summary = try failingSync("cannot read the MANIFEST of \(location.db)") { try ManifestSummary.read(databaseAt: location.db) }
        print("manifest: \(summary.manifestPath)")
        print("next file number: \(summary.nextFileNumber)")
        print("last sequence: \(summary.lastSequence)")
        print("max column family id: \(summary.maxColumnFamily)")
        print("log number (oldest needed): \(summary.families.map(\.logNumber).min() ?? 0)")
        for f in summary.families {
            let options = f.options.map(Self.describe) ?? "options from the database's Options"
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

    private static func describe(_ o: ColumnFamilyOptions) -> String {
        "compression=\(o.compression == .lz4 ? "lz4" : "none") blockSize=\(o.blockSize) bloomBitsPerKey=\(o.bloomBitsPerKey) writeBufferSize=\(o.writeBufferSize)"
    }
}
