/// What a memtable knows about a user key at a snapshot.
enum MemtableGetResult: Equatable {
    /// No version of the key at or below the snapshot: look in older data.
    case notFound
    /// The newest visible version is a deletion: the key does not exist.
    case deleted
    /// The newest visible version's value.
    case found([UInt8])
}
