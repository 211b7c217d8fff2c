/// A range deletion: every key in `[begin, end)` with a sequence number
/// below `sequence` is deleted (as seen by readers at or above `sequence`).
struct RangeTombstone: Equatable, Sendable {
    /// First user key covered (inclusive).
    var begin: [UInt8]
    /// First user key not covered (exclusive).
    var end: [UInt8]
    /// Sequence number of the deleteRange that wrote it.
    var sequence: SequenceNumber
}
