import Foundation
import Strata

/// `strata compact|checkpoint|verify|backup ...`: operations on a database
/// directory. Each prints one summary line and exits non-zero with one line
/// on stderr on failure.
func runMaintenanceCommand(_ command: String, _ args: [String]) {
    switch command {
    case "compact":
        let flags = parseFlags(args, allowed: ["db", "from", "to"])
        let db = openExisting(flags)
        defer { try? db.close() }
        let start = Date()
        do {
            try db.compactRange(flags["from"].map { Array($0.utf8) }, flags["to"].map { Array($0.utf8) })
        } catch { fail("compact failed: \(error)") }
        let levels = (0..<7).map { db.property("strata.num-files-at-level\($0)") ?? "0" }.joined(separator: " ")
        print("compacted in \(String(format: "%.2f", Date().timeIntervalSince(start))) s; files per level: \(levels)")
    case "checkpoint":
        let flags = parseFlags(args, allowed: ["db", "to"])
        guard let to = flags["to"] else { fail("--to=PATH is required", code: 2) }
        let db = openExisting(flags)
        defer { try? db.close() }
        do { try db.createCheckpoint(at: to) } catch { fail("checkpoint failed: \(error)") }
        print("checkpoint written to \(to)")
    case "verify":
        let flags = parseFlags(args, allowed: ["db"])
        let db = openExisting(flags)
        defer { try? db.close() }
        do {
            // A full scan with checksums on reads every block of every table
            // of every column family once.
            var n = 0
            for family in db.columnFamilies {
                let it = try db.makeIterator(in: family, options: ReadOptions(verifyChecksums: true, fillCache: false))
                it.seekToFirst()
                while it.isValid { n += 1; it.next() }
                try it.checkStatus()
            }
            print("ok: \(n) keys in \(db.columnFamilies.count) column families, every block checksum verified")
        } catch { fail("verify failed: \(error)") }
    default:
        fail("unknown command '\(command)'", code: 2)
    }
}

/// `strata backup create|list|verify|restore|purge --dir=BACKUPS ...`
func runBackupCommand(_ args: [String]) {
    guard let sub = args.first else { fail("backup needs one of: create, list, verify, restore, purge", code: 2) }
    let flags = parseFlags(Array(args.dropFirst()), allowed: ["db", "dir", "id", "to", "keep", "overwrite"])
    guard let dir = flags["dir"] else { fail("--dir=BACKUP_DIRECTORY is required", code: 2) }
    do {
        let engine = try BackupEngine(directory: dir)
        switch sub {
        case "create":
            let db = openExisting(flags)
            defer { try? db.close() }
            var last = -1
            let info = try engine.createBackup(of: db) { copied, total in
                let pct = total == 0 ? 100 : Int(copied * 100 / total)
                if pct / 10 != last / 10 {
                    last = pct
                    FileHandle.standardError.write(Data("  \(pct)% (\(copied) of \(total) bytes)\n".utf8))
                }
            }
            print("created \(info)")
        case "list":
            for b in try engine.backups() { print(b) }
        case "verify":
            let ids = try flags["id"].map { [Int($0) ?? -1] } ?? engine.backups().map(\.id)
            for id in ids {
                try engine.verifyBackup(id)
                print("backup \(id): ok")
            }
        case "restore":
            guard let id = flags["id"].flatMap({ Int($0) }), let to = flags["to"] else {
                fail("restore needs --id=N and --to=PATH", code: 2)
            }
            try engine.restore(id, to: to, overwrite: flags["overwrite"] == "true")
            print("restored backup \(id) to \(to)")
        case "purge":
            guard let keep = flags["keep"].flatMap({ Int($0) }) else { fail("purge needs --keep=N", code: 2) }
            try engine.purgeOldBackups(keeping: keep)
            print("kept the newest \(keep) backups")
        default:
            fail("unknown backup command '\(sub)'", code: 2)
        }
    } catch {
        fail("backup \(sub) failed: \(error)")
    }
}
