/// A named keyspace with its own memtable, levels and options. Every
/// database has the family "default" (id 0).
///
/// Handles come from `Database.createColumnFamily`, `columnFamily(_:)` and
/// `columnFamilies`, and are valid only with the database that handed them
/// out (a handle from another database, or from an earlier open of the same
/// directory, is `.invalidArgument`). After `dropColumnFamily` every use of
/// the handle is `.invalidArgument`.
public final class ColumnFamily: Sendable, Hashable, CustomStringConvertible {
    /// The family's name.
    public let name: String
    /// The family's id, stable for the life of the database and never
    /// reused; records in the log and the MANIFEST refer to families by id.
    public let id: UInt32
    /// The options the family was created with (for "default": derived from
    /// the database's `Options`).
    public var options: ColumnFamilyOptions { state.options }
    /// The family's engine state; a handle keeps it (not the database) alive.
    let state: ColumnFamilyState

    init(state: ColumnFamilyState) {
        self.name = state.name
        self.id = state.id
        self.state = state
    }

    /// Whether the family has been dropped.
    public var isDropped: Bool { state.dropped.load(ordering: .acquiring) }

    public static func == (a: ColumnFamily, b: ColumnFamily) -> Bool { a === b }
    public func hash(into h: inout Hasher) { h.combine(ObjectIdentifier(self)) }
    public var description: String { "ColumnFamily(\(name), id: \(id))" }
}
