/// Settings for writing one table file.
struct TableBuilderOptions: Sendable {
    /// Target uncompressed size of a data block.
    var blockSize = 4096
    /// Entries between restart points in data blocks, at least 1 (the
    /// database's comes from `Options.validated()`, which refuses less).
    var restartInterval = 16
    var compression: Compression = .lz4
    /// Bloom filter bits per key; 0 writes no filter.
    var bloomBitsPerKey = 10
    /// The order of the keys; its name goes into the table's properties.
    var comparator: Comparator

    init(blockSize: Int = 4096, restartInterval: Int = 16, compression: Compression = .lz4, bloomBitsPerKey: Int = 10,
         comparator: Comparator) {
        self.comparator = comparator
        self.blockSize = blockSize
        self.restartInterval = restartInterval
        self.compression = compression
        self.bloomBitsPerKey = bloomBitsPerKey
    }
}

/// Writes a sorted table (Docs/format-table.md): data blocks as keys
/// arrive, then the filter, range-deletion, properties, meta-index and
/// index blocks and the footer. Not thread-safe; one writer owns it, so
/// its stored properties skip the runtime's dynamic exclusivity check
/// (`@exclusivity(unchecked)`: the check was 2% of a fillseq profile,
/// on the flush thread).
///
/// The first failed write is remembered and every later call throws it,
/// so a half-written file is never finished as if it were whole.
final class TableBuilder {
    private let file: any WritableFile
    private let options: TableBuilderOptions
    private let comparator: Comparator
    /// `comparator` for the per-entry order check (`comparator` keeps it alive).
    private let order: KeyOrder
    @exclusivity(unchecked) private var data: BlockBuilder
    @exclusivity(unchecked) private var index = BlockBuilder(restartInterval: 1)
    @exclusivity(unchecked) private var filter: BloomFilterBuilder?
    @exclusivity(unchecked) private var props = TableProperties()
    @exclusivity(unchecked) private var lastKey: [UInt8] = []
    /// Range tombstones in arrival order; sorted when the table is finished.
    @exclusivity(unchecked) private var rangeTombstones: [RangeTombstone] = []
    @exclusivity(unchecked) private var offset: UInt64 = 0
    /// The handle of the last data block, waiting for the next block's first
    /// key to choose its index separator.
    @exclusivity(unchecked) private var pendingHandle: BlockHandle?
    @exclusivity(unchecked) private var handleScratch: [UInt8] = []
    @exclusivity(unchecked) private var trailerScratch: [UInt8] = []
    @exclusivity(unchecked) private var compressed: UnsafeMutableRawPointer?
    @exclusivity(unchecked) private var compressedCapacity = 0
    @exclusivity(unchecked) private var failure: StrataError?
    @exclusivity(unchecked) private var closed = false

    init(file: any WritableFile, options: TableBuilderOptions) {
        self.file = file
        self.options = options
        self.comparator = options.comparator
        self.order = KeyOrder(options.comparator)
        props.comparatorName = options.comparator.name
        data = BlockBuilder(restartInterval: options.restartInterval)
        if options.bloomBitsPerKey > 0 { filter = BloomFilterBuilder(bitsPerKey: options.bloomBitsPerKey) }
        offset = file.size
    }

    deinit { compressed?.deallocate() }

    var entryCount: UInt64 { props.numEntries }

    /// Bytes written so far plus the data block being built.
    var estimatedFileSize: UInt64 { offset + UInt64(data.estimatedSize) }

    /// Adds an entry; internal keys must strictly increase.
    func add(_ internalKey: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws {
        try checkOpen()
        guard internalKey.count >= 8 else {
            throw StrataError(.invalidArgument, "table key of \(internalKey.count) bytes is not an internal key")
        }
        if props.numEntries > 0 {
            // The byte-wise case in a closure of its own that calls nothing
            // opaque, so `lastKey`'s storage is not retained around it.
            let order = self.order.isBytewise
                ? lastKey.withUnsafeBytes { compareInternalKeys($0, internalKey) }
                : lastKey.withUnsafeBytes { self.order.comparator.compareInternal($0, internalKey) }
            guard order < 0 else {
                throw StrataError(.invalidArgument, "table keys must strictly increase")
            }
        }
        if let handle = pendingHandle {
            // Shortening follows byte-wise rules; other orders index the
            // block's last key, which is always a valid separator.
            if comparator.canShortenIndexKeys {
                let separator = lastKey.withUnsafeBytes { KeySeparator.shortestSeparator($0, internalKey) }
                addIndexEntry(separator, handle)
            } else {
                addIndexEntry(lastKey, handle)
            }
            pendingHandle = nil
        }
        let userKey = userKeyOf(internalKey)
        filter?.add(userKey)
        if props.numEntries == 0 { props.smallest = internalKey.array }
        if kindOf(internalKey) == .deletion { props.numDeletions += 1 }
        props.maxPointSequence = max(props.maxPointSequence, sequenceOf(internalKey))
        props.numEntries += 1
        props.rawKeySize += UInt64(internalKey.count)
        props.rawValueSize += UInt64(value.count)

        data.add(internalKey, value)
        lastKey.removeAll(keepingCapacity: true)
        lastKey.append(contentsOf: internalKey)
        if data.estimatedSize >= options.blockSize {
            try flushDataBlock()
        }
    }

    /// Adds a range tombstone, in any order relative to other tombstones
    /// and to point entries. An empty range (`begin >= end`) deletes
    /// nothing and is not stored.
    func addRangeTombstone(_ t: RangeTombstone) throws {
        try checkOpen()
        guard t.sequence <= maxSequenceNumber else {
            throw StrataError(.invalidArgument, "range tombstone sequence \(t.sequence) out of range")
        }
        guard comparator.compare(t.begin, t.end) < 0 else { return }
        rangeTombstones.append(t)
    }

    /// Entries plus range tombstones added so far.
    var recordCount: UInt64 { props.numEntries + UInt64(rangeTombstones.count) }

    /// Writes the remaining blocks and the footer. Does not sync or close the file.
    func finish() throws -> TableProperties {
        try checkOpen()
        try flushDataBlock()
        if let handle = pendingHandle {
            if comparator.canShortenIndexKeys {
                let successor = lastKey.withUnsafeBytes { KeySeparator.shortSuccessor($0) }
                addIndexEntry(successor, handle)
            } else {
                addIndexEntry(lastKey, handle)
            }
            pendingHandle = nil
        }
        if props.numEntries > 0 {
            props.largest = lastKey
        }
        var meta: [(String, BlockHandle)] = []
        if let filter {
            let block = filter.finish()
            meta.append((TableFormat.filterBlockName, try write(block, compression: .none)))
        }
        if !rangeTombstones.isEmpty {
            meta.append((TableFormat.rangeDeletionBlockName, try write(finishRangeTombstones(), compression: .none)))
        }
        meta.append((TableFormat.propertiesBlockName, try write(props.encodeBlock(), compression: .none)))

        var metaIndex = BlockBuilder(restartInterval: 1)
        for (name, handle) in meta.sorted(by: { $0.0.utf8.lexicographicallyPrecedes($1.0.utf8) }) {
            handleScratch.removeAll(keepingCapacity: true)
            handle.encode(into: &handleScratch)
            let key = Array(name.utf8)
            key.withUnsafeBytes { k in handleScratch.withUnsafeBytes { v in metaIndex.add(k, v) } }
        }
        metaIndex.finish()
        let metaHandle = try write(metaIndex.buffer, compression: .none)
        index.finish()
        let indexHandle = try write(index.buffer, compression: options.compression)
        try guarded { try file.append(TableFooter(metaIndex: metaHandle, index: indexHandle).encode()) }
        offset += UInt64(TableFormat.footerSize)
        closed = true
        props.fileSize = offset
        return props
    }

    /// Sorts the tombstones into the range-deletion block (internal key of
    /// the begin → end user key) and widens `smallest`/`largest` to cover
    /// them: a tombstone reaches from (begin, sequence) up to, not
    /// including, `end`, recorded as the smallest internal key of `end`.
    private func finishRangeTombstones() -> [UInt8] {
        var keyed: [(key: [UInt8], end: [UInt8])] = rangeTombstones.map {
            (makeInternalKey($0.begin, $0.sequence, .rangeDeletion), $0.end)
        }
        let cmp = comparator
        keyed.sort {
            let c = cmp.compareInternal($0.key, $1.key)
            return c != 0 ? c < 0 : cmp.compare($0.end, $1.end) < 0
        }
        var block = BlockBuilder(restartInterval: options.restartInterval)
        var largestEnd = keyed[0].end
        for t in keyed {
            t.key.withUnsafeBytes { k in t.end.withUnsafeBytes { v in block.add(k, v) } }
            if cmp.compare(t.end, largestEnd) > 0 { largestEnd = t.end }
        }
        block.finish()
        props.numRangeDeletions = UInt64(keyed.count)
        let smallest = keyed[0].key
        if props.smallest.isEmpty || cmp.compareInternal(smallest, props.smallest) < 0 { props.smallest = smallest }
        let largest = makeInternalKey(largestEnd, maxSequenceNumber, .rangeDeletion)
        if props.largest.isEmpty || cmp.compareInternal(largest, props.largest) > 0 { props.largest = largest }
        return block.buffer
    }

    /// Stops building; the file is left as it is for the caller to delete.
    func abandon() {
        closed = true
    }

    // MARK: Writing

    private func checkOpen() throws {
        if let failure { throw failure }
        if closed { throw StrataError(.invalidArgument, "table builder already finished or abandoned") }
    }

    private func guarded(_ body: () throws -> Void) throws {
        do {
            try body()
        } catch let e as StrataError {
            failure = e
            throw e
        } catch {
            let e = StrataError(.ioError, "table write failed: \(error)")
            failure = e
            throw e
        }
    }

    private func addIndexEntry(_ key: [UInt8], _ handle: BlockHandle) {
        handleScratch.removeAll(keepingCapacity: true)
        handle.encode(into: &handleScratch)
        key.withUnsafeBytes { k in handleScratch.withUnsafeBytes { v in index.add(k, v) } }
    }

    private func flushDataBlock() throws {
        guard !data.isEmpty else { return }
        data.finish()
        pendingHandle = try write(data.buffer, compression: options.compression)
        props.dataBlocks += 1
        data.reset()
    }

    /// Writes a block and its trailer, compressed when that pays.
    private func write(_ block: [UInt8], compression: Compression) throws -> BlockHandle {
        try block.withUnsafeBytes { raw in
            var stored = raw
            var type = BlockCompressionType.uncompressed
            if compression == .lz4 {
                let need = LZ4Codec.maxStoredSize(raw.count)
                if need > compressedCapacity {
                    compressed?.deallocate()
                    compressed = UnsafeMutableRawPointer.allocate(byteCount: need, alignment: 8)
                    compressedCapacity = need
                }
                if let n = LZ4Codec.compress(raw, into: compressed!, capacity: compressedCapacity) {
                    stored = UnsafeRawBufferPointer(start: compressed, count: n)
                    type = .lz4
                }
            }
            var crc = CRC32C.checksum(stored)
            trailerScratch.removeAll(keepingCapacity: true)
            trailerScratch.append(type.rawValue)
            crc = trailerScratch.withUnsafeBytes { CRC32C.extend(crc, $0) }
            trailerScratch.appendFixed32(CRC32C.mask(crc))
            let handle = BlockHandle(offset: offset, size: UInt64(stored.count))
            try guarded {
                try file.append(stored)
                try file.append(trailerScratch)
            }
            offset += UInt64(stored.count + TableFormat.blockTrailerSize)
            return handle
        }
    }
}
