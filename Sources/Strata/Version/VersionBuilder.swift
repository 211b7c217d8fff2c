/// Applies file additions and deletions to a base `Version` and produces
/// the next one, checking that every edit is consistent with the files it
/// changes. Errors are `.corruption` with a message that does not name a
/// file; callers prefix the MANIFEST path (recovery) or turn them into
/// `.invalidArgument` (a bad edit from the engine). Key bounds are checked
/// and files sorted in the family's comparator.
struct VersionBuilder {
    /// The family's key order: files are sorted and checked in it.
    private let comparator: Comparator
    private var levels: [[UInt64: FileMetaData]]
    /// Level of every file number present, to catch duplicates and moves.
    private var levelOf: [UInt64: Int]

    init(base: Version, comparator: Comparator) {
        self.comparator = comparator
        levels = Array(repeating: [:], count: Version.numLevels)
        levelOf = [:]
        for (level, files) in base.files.enumerated() {
            for f in files {
                levels[level][f.number] = f
                levelOf[f.number] = level
            }
        }
    }

    /// Deletions first, then additions, so one edit can move a file to
    /// another level (delete at the old level, add at the new one).
    mutating func apply(_ edit: VersionEdit) throws {
        for d in edit.deletedFiles {
            guard d.level >= 0 && d.level < Version.numLevels else {
                throw StrataError(.corruption, "deleted file #\(d.number) has level \(d.level) out of range")
            }
            guard levelOf[d.number] == d.level else {
                throw StrataError(.corruption, "deletes file #\(d.number) from level \(d.level), where it is not")
            }
            levels[d.level][d.number] = nil
            levelOf[d.number] = nil
        }
        for n in edit.newFiles {
            guard n.level >= 0 && n.level < Version.numLevels else {
                throw StrataError(.corruption, "new file #\(n.file.number) has level \(n.level) out of range")
            }
            if let existing = levelOf[n.file.number] {
                throw StrataError(.corruption, "adds file #\(n.file.number), which is already at level \(existing)")
            }
            guard n.file.smallest.count >= 8, n.file.largest.count >= 8,
                  comparator.kind == .unresolved || comparator.compareInternal(n.file.smallest, n.file.largest) <= 0
            else {
                throw StrataError(.corruption, "new file #\(n.file.number) has malformed or inverted key bounds")
            }
            levels[n.level][n.file.number] = n.file
            levelOf[n.file.number] = n.level
        }
    }

    /// The resulting version: level 0 newest first, deeper levels sorted by
    /// smallest key with disjoint user-key ranges.
    func build() throws -> Version {
        var files: [[FileMetaData]] = []
        files.reserveCapacity(Version.numLevels)
        for (level, byNumber) in levels.enumerated() {
            var list = Array(byNumber.values)
            if level == 0 {
                list.sort { $0.number > $1.number }
            } else if comparator.kind == .unresolved {
                // No order known (see `Comparator.unresolved`): listed by number.
                list.sort { $0.number < $1.number }
            } else {
                let cmp = comparator
                list.sort { cmp.compareInternal($0.smallest, $1.smallest) < 0 }
                for i in list.indices.dropFirst() {
                    let prev = list[i - 1], next = list[i]
                    let ordered = prev.largest.withUnsafeBytes { next.compareToSmallest(userKeyOf($0), KeyOrder(cmp)) < 0 }
                    if !ordered {
                        throw StrataError(.corruption, "files #\(prev.number) and #\(next.number) overlap at level \(level)")
                    }
                }
            }
            files.append(list)
        }
        return Version(files: files, comparator: comparator)
    }
}
