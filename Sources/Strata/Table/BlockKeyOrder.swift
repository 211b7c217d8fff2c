/// How the keys of a block are ordered: internal keys (data and index
/// blocks) or plain byte strings (meta-index and properties blocks).
enum BlockKeyOrder: Sendable {
    case internalKey
    case bytewise

    @inline(__always)
    func compare(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Int {
        switch self {
        case .internalKey: compareInternalKeys(a, b)
        case .bytewise: compareBytes(a, b)
        }
    }
}
