/// One unit of compaction work: files at `level` merged with the files
/// they overlap at `outputLevel`, written as new files at `outputLevel`.
/// The output level is `level + 1`, except for the last step of a
/// `compactRange`, which rewrites files of the deepest level in place
/// (`outputLevel == level`, no second input set) to drop what they hide.
///
/// Holds the `Version` it was picked from, so its input files stay live
/// (and undeletable) until the job is done with them.
final class Compaction {
    let version: Version
    let level: Int
    let outputLevel: Int
    /// `inputs[0]` at `level`, `inputs[1]` at `outputLevel`.
    let inputs: [[FileMetaData]]
    /// Files at `outputLevel + 1` overlapping the inputs' range: outputs are
    /// cut so that no one of them overlaps too many bytes of these, which
    /// bounds the cost of compacting it later.
    let grandparents: [FileMetaData]
    let maxOutputFileSize: UInt64
    let maxGrandparentOverlapBytes: UInt64
    /// Started by `compactRange` rather than by a level's score.
    let isManual: Bool

    init(version: Version, level: Int, outputLevel: Int, inputs: [[FileMetaData]], grandparents: [FileMetaData],
         options: Options, isManual: Bool) {
        precondition(outputLevel == level + 1 || (outputLevel == level && inputs[1].isEmpty))
        self.version = version
        self.level = level
        self.outputLevel = outputLevel
        self.inputs = inputs
        self.grandparents = grandparents
        self.maxOutputFileSize = options.targetFileSizeBase
        self.maxGrandparentOverlapBytes = 10 * options.targetFileSizeBase
        self.isManual = isManual
    }

    var inputFileCount: Int { inputs[0].count + inputs[1].count }

    var inputBytes: UInt64 { inputs.reduce(0) { $0 + $1.reduce(0) { $0 + $1.size } } }

    /// A single file with nothing to merge at the output level and a
    /// bounded grandparent overlap: moved to the next level by an edit
    /// alone, without reading or rewriting it.
    var isTrivialMove: Bool {
        outputLevel > level && inputs[0].count == 1 && inputs[1].isEmpty
            && grandparents.reduce(0) { $0 + $1.size } <= maxGrandparentOverlapBytes
    }

    /// The edit that removes every input; outputs are added by the caller.
    func deletionEdit() -> VersionEdit {
        var edit = VersionEdit()
        for f in inputs[0] { edit.deleteFile(level: level, number: f.number) }
        for f in inputs[1] { edit.deleteFile(level: outputLevel, number: f.number) }
        return edit
    }

    /// Smallest and largest user keys over all inputs.
    var userKeyRange: (smallest: [UInt8], largest: [UInt8]) {
        Self.userKeyRange(of: inputs[0] + inputs[1], version.comparator)
    }

    /// Smallest and largest user keys over `files`, in the family's order `cmp`.
    static func userKeyRange(of files: [FileMetaData], _ cmp: Comparator) -> (smallest: [UInt8], largest: [UInt8]) {
        precondition(!files.isEmpty)
        var lo = files[0].smallest
        var hi = files[0].largest
        for f in files.dropFirst() {
            if cmp.compareUserKeysOf(f.smallest, lo) < 0 { lo = f.smallest }
            if cmp.compareUserKeysOf(f.largest, hi) > 0 { hi = f.largest }
        }
        return (Array(lo.dropLast(8)), Array(hi.dropLast(8)))
    }
}
