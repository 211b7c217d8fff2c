/// How the keys of a block are ordered: internal keys in a family's
/// comparator (data, index and range-deletion blocks) or plain byte strings
/// (meta-index and properties blocks).
///
/// Holds a `KeyOrder`, which does not retain its comparator (so cursors are
/// made without retain traffic): whoever makes one keeps the comparator
/// alive (the table reader holds it).
enum BlockKeyOrder: Sendable {
    case internalKey(KeyOrder)
    case bytewise

    /// Internal keys in `comparator`'s order; the caller keeps `comparator` alive.
    static func internalKey(_ comparator: Comparator) -> BlockKeyOrder { .internalKey(KeyOrder(comparator)) }

    /// Internal keys in byte-wise user-key order.
    static let bytewiseInternalKey = BlockKeyOrder.internalKey(.bytewise)

    /// Whether keys are internal keys (at least 8 bytes each).
    @inline(__always)
    var isInternalKey: Bool {
        if case .internalKey = self { return true }
        return false
    }

    /// The comparator of internal keys (byte-wise for plain byte strings).
    var keyOrder: KeyOrder {
        switch self {
        case .internalKey(let k): k
        case .bytewise: KeyOrder(.bytewise)
        }
    }
}
