/// The range tombstones that flow through one compaction: gathered from
/// the input tables, used to drop the point entries they hide, and written
/// again (fragmented per output file) unless the output is the bottom
/// level and no snapshot needs them.
///
/// RANGEDEL: a stub until tables carry range tombstones (the `rangedel`
/// branch adds `TableReader.rangeTombstones` and
/// `TableBuilder.addRangeTombstone`). Every place the job consults it is
/// marked `// RANGEDEL:`; filling in this type is the whole plug-in.
struct CompactionRangeDeletions {
    /// Tombstones from every input, newest first once gathered.
    private(set) var tombstones: [RangeTombstone] = []
    /// Live snapshot sequences, ascending.
    private let snapshots: [SequenceNumber]

    /// RANGEDEL: gather `reader.rangeTombstones` from every input table.
    init(inputs: [TableReader], snapshots: [SequenceNumber]) {
        self.snapshots = snapshots
        _ = inputs
    }

    var isEmpty: Bool { tombstones.isEmpty }

    /// RANGEDEL: true when a tombstone with sequence > `sequence` covers
    /// `userKey` and no snapshot separates them (no snapshot s with
    /// `sequence <= s < tombstone.sequence`): the point entry is then
    /// invisible to every reader and can be dropped.
    @inline(__always)
    func hides(_ userKey: UnsafeRawBufferPointer, sequence: SequenceNumber) -> Bool {
        false
    }

    /// RANGEDEL: input files whose whole key range is covered by a
    /// tombstone newer than every entry in them (same snapshot stripe):
    /// deleted by the edit without being read or rewritten.
    func fullyCoveredInputs(_ files: [FileMetaData]) -> Set<UInt64> {
        []
    }

    /// RANGEDEL: writes the fragments of every tombstone that falls in the
    /// output file's user-key range [lower, upper) (nil = open end) with
    /// `builder.addRangeTombstone`, skipping those no reader needs any more
    /// (`bottommost`, so nothing older lies below, and no snapshot older
    /// than the tombstone), and returns the internal-key bounds the file
    /// must be widened to, if any, so that its range covers its tombstones.
    func addFragments(to builder: TableBuilder, lower: [UInt8]?, upper: [UInt8]?, bottommost: Bool)
        -> (smallest: [UInt8], largest: [UInt8])?
    {
        nil
    }
}
