/// The two-level iterator over a table: an index cursor picks the data
/// block, a data cursor walks it. Empty blocks are skipped in both
/// directions; the first error (a bad block, a failed read) is kept and
/// makes the iterator invalid.
///
/// The data cursor holds a reference to its block, so the block stays alive
/// while the iterator is positioned in it even if the cache evicts it.
///
/// Mutable state is marked `@exclusivity(unchecked)`: an iterator is used by
/// one thread at a time and never hands out `inout` access to its fields, so
/// the dynamic exclusivity checks (a fifth of readseq's time) buy nothing.
final class TableIterator: InternalIterator {
    private let table: TableReader
    private let verifyChecksums: Bool
    private let fillCache: Bool
    @exclusivity(unchecked) private var index: BlockCursor
    @exclusivity(unchecked) private var data: BlockCursor
    /// Offset of the block `data` is over; nil when none is loaded.
    @exclusivity(unchecked) private var dataOffset: UInt64?
    @exclusivity(unchecked) private var error: StrataError?
    /// Larger reads once blocks are read in file order.
    private let readahead = TableReadahead()

    init(table: TableReader, indexBlock: Block, verifyChecksums: Bool, fillCache: Bool) {
        self.table = table
        self.verifyChecksums = verifyChecksums
        self.fillCache = fillCache
        index = BlockCursor(order: table.blockOrder)
        index.reset(indexBlock)
        data = BlockCursor(order: table.blockOrder)
    }

    var isValid: Bool { error == nil && data.isValid }
    var key: UnsafeRawBufferPointer { data.key }
    var value: UnsafeRawBufferPointer { data.value }
    func status() -> StrataError? { error }

    func seekToFirst() {
        guard error == nil else { return }
        index.seekToFirst()
        if loadDataBlock() { data.seekToFirst() }
        skipEmptyForward()
    }

    func seekToLast() {
        guard error == nil else { return }
        index.seekToLast()
        if loadDataBlock() { data.seekToLast() }
        skipEmptyBackward()
    }

    func seek(_ target: UnsafeRawBufferPointer) {
        guard error == nil else { return }
        index.seek(target)
        if loadDataBlock() { data.seek(target) }
        skipEmptyForward()
    }

    func next() {
        guard isValid else { return }
        data.next()
        skipEmptyForward()
    }

    func prev() {
        guard isValid else { return }
        data.prev()
        skipEmptyBackward()
    }

    // MARK: Blocks

    /// Points `data` at the block the index cursor is on; false (data
    /// unpositioned) when the index is exhausted or an error occurred.
    private func loadDataBlock() -> Bool {
        guard index.isValid else {
            if let e = index.error { fail(e) }
            unloadData()
            return false
        }
        do {
            let handle = try table.decodeHandle(index.value)
            if dataOffset == handle.offset, data.block != nil { return true }
            let block = try table.dataBlock(handle, verifyChecksums: verifyChecksums, fillCache: fillCache, readahead: readahead)
            data.reset(block)
            dataOffset = handle.offset
            return true
        } catch let e as StrataError {
            fail(e)
        } catch {
            fail(StrataError(.ioError, "\(table.path): \(error)"))
        }
        return false
    }

    private func unloadData() {
        data.reset(nil)
        dataOffset = nil
    }

    private func fail(_ e: StrataError) {
        if error == nil { error = e }
        unloadData()
    }

    private func skipEmptyForward() {
        while !data.isValid {
            if let e = data.error { fail(e); return }
            guard error == nil, index.isValid else { unloadData(); return }
            index.next()
            guard loadDataBlock() else { return }
            data.seekToFirst()
        }
    }

    private func skipEmptyBackward() {
        while !data.isValid {
            if let e = data.error { fail(e); return }
            guard error == nil, index.isValid else { unloadData(); return }
            index.prev()
            guard loadDataBlock() else { return }
            data.seekToLast()
        }
    }
}
