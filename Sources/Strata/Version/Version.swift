/// An immutable set of table files per level for one column family.
///
/// Level 0 is ordered newest first (highest file number first) and its files
/// may overlap. Levels 1 and deeper are sorted by smallest key and their
/// files' user-key ranges do not overlap (not even at a shared boundary user
/// key), so at most one file per level can hold a given user key.
final class Version: Sendable {
    static let numLevels = 7

    let files: [[FileMetaData]]
    /// The family's key order, which every range check here uses.
    let comparator: Comparator
    /// `comparator` for the lookups (kept alive by `comparator`).
    let keyOrder: KeyOrder

    /// `files` must already be ordered as described above, in `comparator`'s
    /// order (`VersionBuilder` produces and checks that).
    init(files: [[FileMetaData]], comparator: Comparator) {
        precondition(files.count == Version.numLevels)
        self.files = files
        self.comparator = comparator
        self.keyOrder = KeyOrder(comparator)
    }

    /// A byte-wise version with no files.
    static let empty = Version(files: Array(repeating: [], count: numLevels), comparator: .bytewise)

    /// A version with no files in `comparator`'s order.
    static func empty(_ comparator: Comparator) -> Version {
        comparator.isBytewise ? .empty : Version(files: Array(repeating: [], count: numLevels), comparator: comparator)
    }

    var totalFiles: Int { files.reduce(0) { $0 + $1.count } }

    /// Sum of the sizes of the files at `level`.
    func levelSize(_ level: Int) -> UInt64 {
        files[level].reduce(0) { $0 + $1.size }
    }

    /// Files that may hold `userKey`, in the order a lookup must consult
    /// them: at level 0 every file whose range contains the key, newest
    /// first; deeper levels at most one file.
    func filesForGet(level: Int, userKey: UnsafeRawBufferPointer) -> [FileMetaData] {
        if level == 0 {
            // One test of the order per call (see `KeyOrdering`).
            if keyOrder.isBytewise { return files[0].filter { $0.containsUserKey(userKey, BytewiseKeyOrder()) } }
            return files[0].filter { $0.containsUserKey(userKey, keyOrder) }
        }
        if let f = fileForGet(level: level, userKey: userKey) { return [f] }
        return []
    }

    /// The one file at `level` (>= 1) whose range contains `userKey`, by
    /// binary search; no allocation, for the read path.
    func fileForGet(level: Int, userKey: UnsafeRawBufferPointer) -> FileMetaData? {
        precondition(level >= 1)
        if keyOrder.isBytewise { return Self.fileForGet(files[level], userKey, BytewiseKeyOrder()) }
        return Self.fileForGet(files[level], userKey, keyOrder)
    }

    @inline(__always)
    private static func fileForGet<O: KeyOrdering>(_ level: [FileMetaData], _ userKey: UnsafeRawBufferPointer, _ order: O) -> FileMetaData? {
        let i = firstFile(level, largestAtLeast: userKey, order)
        guard i < level.count, level[i].compareToSmallest(userKey, order) >= 0 else { return nil }
        return level[i]
    }

    /// Files at `level` whose user-key range intersects
    /// [smallestUserKey, largestUserKey] (both inclusive; nil is an open
    /// end). At level 0 this is the direct overlap only; a compaction that
    /// needs the transitive closure of overlapping level-0 files widens the
    /// range and asks again.
    func overlappingFiles(level: Int, smallestUserKey: [UInt8]?, largestUserKey: [UInt8]?) -> [FileMetaData] {
        let candidates = files[level]
        var start = 0
        if level > 0, let lo = smallestUserKey {
            start = lo.withUnsafeBytes { Self.firstFile(candidates, largestAtLeast: $0, keyOrder) }
        }
        var result: [FileMetaData] = []
        for i in start..<candidates.count {
            let f = candidates[i]
            let beforeRange = smallestUserKey.map { lo in lo.withUnsafeBytes { f.compareToLargest($0, keyOrder) > 0 } } ?? false
            let afterRange = largestUserKey.map { hi in hi.withUnsafeBytes { f.compareToSmallest($0, keyOrder) < 0 } } ?? false
            if afterRange && level > 0 { break }
            if !beforeRange && !afterRange { result.append(f) }
        }
        return result
    }

    /// Index of the first file in a sorted, non-overlapping level whose
    /// largest user key is >= `key` (count if none).
    private static func firstFile<O: KeyOrdering>(_ level: [FileMetaData], largestAtLeast key: UnsafeRawBufferPointer, _ cmp: O) -> Int {
        var lo = 0
        var hi = level.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if level[mid].compareToLargest(key, cmp) > 0 {
                lo = mid + 1
            } else {
                hi = mid
            }
        }
        return lo
    }
}
