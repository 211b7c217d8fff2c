/// A `compactRange` request, handed to the compaction threads and waited on
/// by its caller. Guarded by `DBCore.mu`.
final class ManualCompaction {
    /// The family whose levels are compacted.
    let family: ColumnFamilyState
    /// User-key range, both ends inclusive; nil is open.
    let begin: [UInt8]?
    let end: [UInt8]?
    /// Where the next step at `level` starts: a level too large for one
    /// step is compacted in pieces, each starting at the previous piece's
    /// largest input key (that key's file has left the level by then).
    var resumeFrom: [UInt8]?
    /// Level being compacted into `level + 1`; nil until the thread starts it.
    var level: Int?
    /// Compaction stops once the range has reached this level.
    var targetLevel = 1
    /// Some step moved data into `targetLevel`; if none did, the request
    /// ends by rewriting that level in place (see `Compaction`), so a
    /// range already at the bottom still sheds deleted and overwritten data.
    var compactedIntoTarget = false
    /// The in-place pass over `targetLevel` has started.
    var inPlacePass = false
    /// A step of this request is running on some compaction thread.
    var stepRunning = false
    var done = false
    var error: StrataError?

    init(family: ColumnFamilyState, begin: [UInt8]?, end: [UInt8]?) {
        self.family = family
        self.begin = begin
        self.end = end
    }
}
