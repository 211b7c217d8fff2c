/// The range tombstones of a super version's sources that no longer
/// change — the immutable memtable and every table file — fragmented
/// into one list, plus the newest point sequence of each of those
/// sources (what lets an iterator jump a whole source past a tombstone
/// instead of stepping through it).
///
/// Built once per `SuperVersion`, on its first read (see
/// `SuperVersion.settledRangeDeletions`). Tables without tombstones add
/// nothing but a look at their (cached) reader.
final class SettledRangeDeletions: Sendable {
    /// Nil when none of the sources has a tombstone.
    let fragments: RangeTombstoneFragments?
    /// `maxPointSequence` of each level-0 file, in `version.files[0]` order.
    let level0MaxPointSequence: [SequenceNumber]
    /// The largest `maxPointSequence` over each level's files (index = level;
    /// entry 0 unused).
    let levelMaxPointSequence: [SequenceNumber]

    init(imm: Memtable?, version: Version, tables: TableCache) throws {
        var tombstones = imm?.rangeTombstoneList() ?? []
        var level0: [SequenceNumber] = []
        var levels = [SequenceNumber](repeating: 0, count: version.files.count)
        for (level, files) in version.files.enumerated() {
            for file in files {
                let reader = try tables.reader(for: file, comparator: version.comparator)
                tombstones.append(contentsOf: reader.rangeTombstones)
                let s = reader.properties.maxPointSequence
                if level == 0 { level0.append(s) }
                levels[level] = max(levels[level], s)
            }
        }
        fragments = tombstones.isEmpty ? nil : RangeTombstoneFragments(tombstones, comparator: version.comparator)
        level0MaxPointSequence = level0
        levelMaxPointSequence = levels
    }
}
