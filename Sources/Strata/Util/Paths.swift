/// File names inside a database directory.
///
/// - `CURRENT`: names the live MANIFEST.
/// - `LOCK`: held while a handle has the database open.
/// - `MANIFEST-NNNNNN`: the version log.
/// - `NNNNNN.log`: write-ahead logs. `NNNNNN.sst`: table files.
/// - `NNNNNN.dbtmp`: temporary files (CURRENT replacement).
enum DBFileKind: Equatable {
    case current, lock, manifest(UInt64), log(UInt64), table(UInt64), temp(UInt64)
}

enum DBPaths {
    static func join(_ dir: String, _ name: String) -> String {
        dir.hasSuffix("/") ? dir + name : dir + "/" + name
    }

    static func numbered(_ n: UInt64, _ suffix: String) -> String {
        let digits = String(n)
        return String(repeating: "0", count: max(0, 6 - digits.count)) + digits + suffix
    }

    static func logName(_ n: UInt64) -> String { numbered(n, ".log") }
    static func tableName(_ n: UInt64) -> String { numbered(n, ".sst") }
    static func tempName(_ n: UInt64) -> String { numbered(n, ".dbtmp") }
    static func manifestName(_ n: UInt64) -> String { "MANIFEST-" + numbered(n, "") }

    static func log(_ dir: String, _ n: UInt64) -> String { join(dir, logName(n)) }
    static func table(_ dir: String, _ n: UInt64) -> String { join(dir, tableName(n)) }
    static func manifest(_ dir: String, _ n: UInt64) -> String { join(dir, manifestName(n)) }
    static func current(_ dir: String) -> String { join(dir, "CURRENT") }
    static func lock(_ dir: String) -> String { join(dir, "LOCK") }

    /// Largest file number the engine uses or accepts (2^63 - 1), so that
    /// "number + 1" never overflows. A MANIFEST naming a larger one is
    /// corrupt; a directory entry with a larger one is not the engine's.
    static let maxFileNumber = UInt64(Int64.max)

    /// Classifies a directory entry; nil for files that are not the engine's.
    static func parse(_ name: String) -> DBFileKind? {
        if name == "CURRENT" { return .current }
        if name == "LOCK" { return .lock }
        if name.hasPrefix("MANIFEST-") {
            guard let n = UInt64(name.dropFirst(9)), n <= maxFileNumber else { return nil }
            return .manifest(n)
        }
        for (suffix, make) in [(".log", DBFileKind.log), (".sst", DBFileKind.table), (".dbtmp", DBFileKind.temp)] as [(String, (UInt64) -> DBFileKind)] {
            if name.hasSuffix(suffix), let n = UInt64(name.dropLast(suffix.count)), n <= maxFileNumber { return make(n) }
        }
        return nil
    }
}
