/// An open table file: footer, index, filter and properties read and
/// verified at open and kept in memory; data blocks come from the block
/// cache or the file on demand.
///
/// Sendable: every stored property is an immutable `let` of a Sendable
/// type; positional reads on the file are safe from many threads.
final class TableReader: Sendable {
    let file: any ReadableFile
    let path: String
    let fileNumber: UInt64
    let cache: BlockCache?
    /// Where bloom checks and disk block reads are counted (statistics hook).
    let statistics: Statistics?
    let properties: TableProperties
    /// The order of the table's keys (its family's comparator, checked
    /// against the name in the properties at open).
    let comparator: Comparator
    /// `.internalKey(comparator)`, for the block cursors (this reader keeps
    /// the comparator alive for them).
    let blockOrder: BlockKeyOrder
    let indexBlock: Block
    /// Narrows index seeks in large index blocks (byte-wise tables only).
    let indexSample: RestartKeySample?
    /// The table's range tombstones, sorted by begin key then sequence
    /// descending; read and checked at open and kept for the reader's life.
    let rangeTombstones: [RangeTombstone]
    private let filter: BloomFilter?
    /// Bytes of the index and filter blocks, pinned in the block cache while this reader lives.
    private let pinnedBytes: Int
    /// Where the footer starts; no block may reach past it.
    private let dataEnd: UInt64

    private init(file: any ReadableFile, path: String, fileNumber: UInt64, cache: BlockCache?, statistics: Statistics?,
                 properties: TableProperties, comparator: Comparator, indexBlock: Block, rangeTombstones: [RangeTombstone],
                 filter: BloomFilter?, filterBytes: Int, dataEnd: UInt64) {
        self.comparator = comparator
        self.blockOrder = .internalKey(comparator)
        self.file = file
        self.path = path
        self.fileNumber = fileNumber
        self.cache = cache
        self.statistics = statistics
        self.properties = properties
        self.indexBlock = indexBlock
        var cursor = BlockCursor(order: .internalKey(comparator))
        cursor.reset(indexBlock)
        self.indexSample = cursor.sampleRestartKeys()
        self.rangeTombstones = rangeTombstones
        self.filter = filter
        self.dataEnd = dataEnd
        self.pinnedBytes = indexBlock.size + filterBytes + (indexSample?.memoryUsage ?? 0)
        cache?.pin(bytes: pinnedBytes)
    }

    deinit {
        cache?.unpin(bytes: pinnedBytes)
    }

    /// Opens a table, verifying the footer and the checksums of the index,
    /// meta-index, filter, range-deletion and properties blocks. The table
    /// must have been written in `comparator`'s order: a table naming
    /// another comparator is `.corruption` (a table without the name
    /// predates comparators and is byte-wise).
    static func open(file: any ReadableFile, path: String, fileNumber: UInt64, cache: BlockCache?,
                     statistics: Statistics? = nil, comparator: Comparator) throws -> TableReader {
        let size = file.size
        let footerSize = UInt64(TableFormat.footerSize)
        guard size >= footerSize else {
            throw StrataError(.corruption, "\(path): file of \(size) bytes is too short to be a Strata table")
        }
        let dataEnd = size - footerSize
        let footerBytes = try file.readExactly(at: dataEnd, count: TableFormat.footerSize, path: path)
        let footer = try footerBytes.withUnsafeBytes { try TableFooter.decode($0, path: path, offset: dataEnd) }

        let indexBlock = try BlockReader.read(file, path: path, handle: footer.index, dataEnd: dataEnd, verifyChecksum: true)
        let metaBlock = try BlockReader.read(file, path: path, handle: footer.metaIndex, dataEnd: dataEnd, verifyChecksum: true)

        var filterHandle: BlockHandle?
        var propertiesHandle: BlockHandle?
        var rangeDeletionHandle: BlockHandle?
        var meta = BlockCursor(order: .bytewise)
        meta.reset(metaBlock)
        meta.seekToFirst()
        while meta.isValid {
            let name = String(decoding: meta.key, as: UTF8.self)
            if name == TableFormat.filterBlockName || name == TableFormat.propertiesBlockName
                || name == TableFormat.rangeDeletionBlockName {
                guard let h = BlockHandle.decodeExactly(meta.value) else {
                    throw StrataError(.corruption, "\(path): bad handle for \(name) in meta-index block at offset \(footer.metaIndex.offset)")
                }
                switch name {
                case TableFormat.filterBlockName: filterHandle = h
                case TableFormat.propertiesBlockName: propertiesHandle = h
                default: rangeDeletionHandle = h
                }
            }
            meta.next()
        }
        if let e = meta.error { throw e }
        guard let propertiesHandle else {
            throw StrataError(.corruption, "\(path): meta-index block at offset \(footer.metaIndex.offset) has no properties block")
        }
        let propertiesBlock = try BlockReader.read(file, path: path, handle: propertiesHandle, dataEnd: dataEnd, verifyChecksum: true)
        let properties = try TableProperties.decode(propertiesBlock, fileSize: size)
        let written = properties.comparatorName ?? Comparator.bytewise.name
        guard written == comparator.name else {
            throw StrataError(.corruption, "\(path): table keys are ordered by comparator \"\(written)\", but its column family uses \"\(comparator.name)\" (properties block at offset \(propertiesHandle.offset))")
        }
        var filter: BloomFilter?
        var filterBytes = 0
        if let filterHandle {
            let filterBlock = try BlockReader.read(file, path: path, handle: filterHandle, dataEnd: dataEnd,
                                                   verifyChecksum: true, hasEntries: false)
            filterBytes = filterBlock.size
            filter = try BloomFilter(block: filterBlock)
        }
        var rangeTombstones: [RangeTombstone] = []
        if let rangeDeletionHandle {
            let block = try BlockReader.read(file, path: path, handle: rangeDeletionHandle, dataEnd: dataEnd, verifyChecksum: true)
            rangeTombstones = try decodeRangeTombstones(block, comparator)
        }
        guard UInt64(rangeTombstones.count) == properties.numRangeDeletions else {
            throw StrataError(.corruption, "\(path): properties count \(properties.numRangeDeletions) range tombstones but the table holds \(rangeTombstones.count)")
        }
        return TableReader(file: file, path: path, fileNumber: fileNumber, cache: cache, statistics: statistics,
                           properties: properties, comparator: comparator, indexBlock: indexBlock, rangeTombstones: rangeTombstones,
                           filter: filter, filterBytes: filterBytes, dataEnd: dataEnd)
    }

    /// Decodes the range-deletion block: internal keys of kind
    /// `.rangeDeletion` in non-decreasing order, each with a non-empty range.
    private static func decodeRangeTombstones(_ block: Block, _ comparator: Comparator) throws -> [RangeTombstone] {
        func bad(_ what: String) -> StrataError {
            StrataError(.corruption, "\(block.path): bad range-deletion block at offset \(block.fileOffset): \(what)")
        }
        var result: [RangeTombstone] = []
        var previous: [UInt8] = []
        var cursor = BlockCursor(order: .internalKey(comparator))
        cursor.reset(block)
        cursor.seekToFirst()
        while cursor.isValid {
            let key = cursor.key
            guard kindOf(key) == .rangeDeletion else { throw bad("entry \(result.count) is not a range tombstone") }
            if !previous.isEmpty {
                guard previous.withUnsafeBytes({ comparator.compareInternal($0, key) }) <= 0 else {
                    throw bad("entry \(result.count) is out of order")
                }
            }
            let begin = userKeyOf(key)
            guard comparator.compare(begin, cursor.value) < 0 else { throw bad("entry \(result.count) has an empty range") }
            result.append(RangeTombstone(begin: begin.array, end: cursor.value.array, sequence: sequenceOf(key)))
            previous = key.array
            cursor.next()
        }
        if let e = cursor.error { throw e }
        return result
    }

    /// False only when the table certainly holds no entry of `userKey`.
    func mayContain(userKey: UnsafeRawBufferPointer) -> Bool {
        filter?.mayContain(userKey) ?? true
    }

    /// The first entry with internal key >= `lookupKey` if its user key is
    /// `lookupKey`'s; `.notFound` otherwise. Checks the bloom filter first.
    func get(_ lookupKey: UnsafeRawBufferPointer, verifyChecksums: Bool, fillCache: Bool) throws -> TableGetResult {
        guard lookupKey.count >= 8 else {
            throw StrataError(.invalidArgument, "lookup key of \(lookupKey.count) bytes is not an internal key")
        }
        let userKey = userKeyOf(lookupKey)
        if let filter {
            let excluded = !filter.mayContain(userKey)
            statistics?.recordBloomCheck(useful: excluded)  // statistics hook
            if excluded { return .notFound }
        }

        var index = BlockCursor(order: blockOrder)
        index.reset(indexBlock)
        index.seek(lookupKey, restarts: indexSample?.restartRange(for: userKey))
        guard index.isValid else {
            if let e = index.error { throw e }
            return .notFound
        }
        let handle = try decodeHandle(index.value)
        let block = try dataBlock(handle, verifyChecksums: verifyChecksums, fillCache: fillCache, forGet: true)
        // Keys up to this size are rebuilt on the stack; longer ones move to the heap.
        return try withUnsafeTemporaryAllocation(byteCount: 256, alignment: 8) { scratch in
            var cursor = BlockCursor(order: blockOrder, scratch: scratch)
            cursor.reset(block)
            cursor.seek(lookupKey)
            guard cursor.isValid else {
                if let e = cursor.error { throw e }
                // The separator after this block is below the next block's
                // first user key, so no later block can hold this user key.
                return .notFound
            }
            let key = cursor.key
            guard bytesEqual(userKeyOf(key), userKey) else { return .notFound }
            guard let kind = kindOf(key) else {
                throw StrataError(.corruption, "\(path): unknown value kind \(UInt8(truncatingIfNeeded: trailerOf(key))) in block at offset \(handle.offset)")
            }
            return .found(kind: kind, sequence: sequenceOf(key), value: cursor.value.array)
        }
    }

    /// A two-level iterator over the whole table.
    func makeIterator(verifyChecksums: Bool, fillCache: Bool) -> any InternalIterator {
        makeTableIterator(verifyChecksums: verifyChecksums, fillCache: fillCache)
    }

    /// `makeIterator` with its concrete type, for callers that make
    /// per-entry calls on it.
    func makeTableIterator(verifyChecksums: Bool, fillCache: Bool) -> TableIterator {
        TableIterator(table: self, indexBlock: indexBlock, verifyChecksums: verifyChecksums, fillCache: fillCache)
    }

    /// Decodes an index entry's value.
    func decodeHandle(_ value: UnsafeRawBufferPointer) throws -> BlockHandle {
        guard let h = BlockHandle.decodeExactly(value) else {
            throw StrataError(.corruption, "\(path): bad block handle in index block at offset \(indexBlock.fileOffset)")
        }
        return h
    }

    /// A data block from the cache, or read (and cached if `fillCache`).
    /// `forGet` counts a disk read towards point-lookup read amplification.
    /// `readahead` (an iterator's) serves sequential misses from larger reads.
    func dataBlock(_ handle: BlockHandle, verifyChecksums: Bool, fillCache: Bool, forGet: Bool = false,
                   readahead: TableReadahead? = nil) throws -> Block {
        if let cache, let block = cache.lookup(fileNumber: fileNumber, offset: handle.offset) {
            return block
        }
        let block: Block
        if let readahead, file.mappedBytes == nil,
           let bytes = try readahead.blockBytes(handle, file: file, path: path, dataEnd: dataEnd) {
            block = try BlockReader.decode(bytes, path: path, offset: handle.offset, verifyChecksum: verifyChecksums)
        } else {
            block = try BlockReader.read(file, path: path, handle: handle, dataEnd: dataEnd, verifyChecksum: verifyChecksums)
        }
        statistics?.recordBlockRead(bytes: Int(handle.size), forGet: forGet)  // statistics hook
        if fillCache, let cache {
            cache.insert(fileNumber: fileNumber, offset: handle.offset, block: block)
        }
        return block
    }
}
