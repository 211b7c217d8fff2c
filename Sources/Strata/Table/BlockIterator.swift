/// An `InternalIterator` over one block. Keys compare as internal keys
/// (data and index blocks) or as plain bytes (meta blocks), per `order`.
final class BlockIterator: InternalIterator {
    @exclusivity(unchecked) private var cursor: BlockCursor

    init(block: Block, order: BlockKeyOrder) {
        cursor = BlockCursor(order: order)
        cursor.reset(block)
    }

    var isValid: Bool { cursor.isValid }
    func seekToFirst() { cursor.seekToFirst() }
    func seekToLast() { cursor.seekToLast() }
    func seek(_ target: UnsafeRawBufferPointer) { cursor.seek(target) }
    func next() { cursor.next() }
    func prev() { cursor.prev() }
    var key: UnsafeRawBufferPointer { cursor.key }
    var value: UnsafeRawBufferPointer { cursor.value }
    func status() -> StrataError? { cursor.error }
}
