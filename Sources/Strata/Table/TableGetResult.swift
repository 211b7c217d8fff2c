/// What a point lookup found in one table.
enum TableGetResult: Equatable, Sendable {
    /// No entry of the user key at or below the lookup sequence.
    case notFound
    /// The newest visible entry of the user key (a value or a tombstone).
    case found(kind: ValueKind, sequence: UInt64, value: [UInt8])
}
