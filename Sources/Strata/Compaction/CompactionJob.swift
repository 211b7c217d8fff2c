/// Runs one `Compaction` with `mu` released: merges the input files, keeps
/// what some reader can still see, writes the result as new table files at
/// the output level (fsynced, directory fsynced) and returns the version
/// edit that swaps inputs for outputs. Installing the edit is the caller's
/// job (under `mu`).
///
/// What is kept, per user key, walking its entries newest first:
/// - the newest entry;
/// - an older entry only when a live snapshot separates it from the next
///   newer one (some snapshot s with older.seq <= s < newer.seq);
/// - a deletion is dropped when no deeper level than the output holds the
///   key and every snapshot sees it (its sequence is not above the oldest
///   snapshot), since then it hides nothing any reader could find.
///
/// Output files are cut at `maxOutputFileSize` and when the bytes of
/// grandparent files a file overlaps exceed `maxGrandparentOverlapBytes`,
/// but only between user keys, never inside one.
final class CompactionJob {
    /// Where the job writes and what it needs from the database.
    struct Environment {
        let directory: String
        let fileSystem: any FileSystem
        let tableCache: TableCache
        let tableOptions: TableBuilderOptions
        /// Allocates an output file number and protects it from deletion
        /// until the caller releases it.
        let newOutputNumber: () -> UInt64
        /// True once the database is closing: the job stops and discards its outputs.
        let shouldStop: () -> Bool
    }

    let compaction: Compaction
    /// The family's key order (the compaction's version's).
    private let comparator: Comparator
    /// `comparator` for the per-key file range checks (the version keeps it alive).
    private let keyOrder: KeyOrder
    private let env: Environment
    /// Live snapshot sequences, ascending, taken when the job started.
    private let snapshots: [SequenceNumber]

    /// Files written so far (all deleted again if the job fails).
    private(set) var outputs: [FileMetaData] = []
    private(set) var bytesRead: UInt64 = 0
    private(set) var bytesWritten: UInt64 = 0
    /// Inputs deleted unread: wholly under newer range tombstones.
    private(set) var droppedFiles = 0
    /// Every output number allocated (protected until the caller releases them).
    private(set) var allocatedNumbers: [UInt64] = []

    // Output in progress.
    private var builder: TableBuilder?
    private var builderFile: (any WritableFile)?
    private var builderNumber: UInt64 = 0
    /// First user key the current output may hold (nil: open).
    private var outputLower: [UInt8]?

    // Grandparent overlap of the current output.
    private var grandparentIndex = 0
    private var grandparentOverlap: UInt64 = 0
    private var seenKey = false

    /// Per deeper level, the first file that may still hold a key (keys
    /// arrive ascending, so these only move forward).
    private var baseLevelCursors: [Int] = Array(repeating: 0, count: Version.numLevels)
    /// Internal keys of the current output's first and last point entries.
    private var firstPointKey: [UInt8]?
    private var lastPointKey: [UInt8] = []
    /// User-key range spanned by the input files (inclusive): no file of the
    /// output level outside the inputs overlaps it.
    private var inputLowest: [UInt8] = []
    private var inputHighest: [UInt8] = []

    init(compaction: Compaction, snapshots: [SequenceNumber], environment: Environment) {
        self.compaction = compaction
        self.comparator = compaction.version.comparator
        self.keyOrder = compaction.version.keyOrder
        self.snapshots = snapshots
        self.env = environment
    }

    /// Merges, writes the outputs and returns the edit to install. On a
    /// throw every output written is removed again (best effort).
    func run() throws -> VersionEdit {
        let c = compaction
        var edit = c.deletionEdit()
        if c.isTrivialMove {
            edit.addFile(level: c.outputLevel, c.inputs[0][0])
            return edit
        }
        do {
            try merge()
            if !outputs.isEmpty { try env.fileSystem.syncDirectory(at: env.directory) }
        } catch {
            builder?.abandon()
            try? builderFile?.close()
            builder = nil
            builderFile = nil
            if builderNumber != 0 { try? env.fileSystem.removeFile(at: DBPaths.table(env.directory, builderNumber)) }
            for f in outputs { try? env.fileSystem.removeFile(at: DBPaths.table(env.directory, f.number)) }
            outputs = []
            throw error
        }
        for f in outputs { edit.addFile(level: c.outputLevel, f) }
        return edit
    }

    // MARK: Merging

    private func merge() throws {
        let c = compaction
        var readers: [TableReader] = []
        for level in c.inputs { for f in level { readers.append(try env.tableCache.reader(for: f, comparator: comparator)) } }
        let rangeDeletions = CompactionRangeDeletions(inputs: readers, snapshots: snapshots, comparator: comparator)
        let skipped = rangeDeletions.fullyCoveredInputs(c.inputs[0] + c.inputs[1],
                                                        maxPointSequences: readers.map(\.properties.maxPointSequence))
        droppedFiles = skipped.count
        computeInputRange()

        var children: [any InternalIterator] = []
        if c.level == 0 {
            for (i, f) in c.inputs[0].enumerated() where !skipped.contains(f.number) {
                children.append(readers[i].makeIterator(verifyChecksums: true, fillCache: false))
            }
        } else {
            let files = c.inputs[0].filter { !skipped.contains($0.number) }
            if !files.isEmpty {
                children.append(LevelIterator(files: files, tables: env.tableCache, comparator: comparator, verifyChecksums: true, fillCache: false))
            }
        }
        let lower = c.inputs[1].filter { !skipped.contains($0.number) }
        if !lower.isEmpty {
            children.append(LevelIterator(files: lower, tables: env.tableCache, comparator: comparator, verifyChecksums: true, fillCache: false))
        }
        for level in c.inputs { for f in level where !skipped.contains(f.number) { bytesRead += f.size } }

        let input = MergingIterator(children, comparator: comparator)
        var currentUserKey: [UInt8] = []
        currentUserKey.reserveCapacity(64)
        var hasCurrentKey = false
        /// Snapshot stripe of the previous entry of the current user key.
        var previousStripe = -1
        /// The current output is full: end it before the next kept entry.
        var cutBeforeNextKept = false
        var steps = 0

        input.seekToFirst()
        while input.isValid {
            steps &+= 1
            if steps & 1023 == 0 && env.shouldStop() {
                throw StrataError(.closed, "compaction stopped: the database is closing")
            }
            let key = input.key
            guard key.count >= 8, let kind = kindOf(key) else {
                throw StrataError(.corruption, "compaction input holds a malformed internal key (\(key.count) bytes) in files \(c.inputs.flatMap { $0.map(\.number) })")
            }
            let userKey = userKeyOf(key)
            let sequence = sequenceOf(key)
            let newUserKey = !hasCurrentKey || !currentUserKey.withUnsafeBytes { bytesEqual($0, userKey) }
            if newUserKey {
                // A user key never spans two outputs (levels >= 1 must not
                // overlap), so files are cut only between user keys — and
                // only at the next key that is kept: the cut key is where
                // one output's tombstones end and the next one's begin, so
                // cutting at a key whose entries are all dropped would leave
                // the tombstones between it and the next kept key in no file.
                let overlapFull = grandparentLimitReached(before: userKey)
                if let b = builder, overlapFull || b.estimatedFileSize >= c.maxOutputFileSize {
                    cutBeforeNextKept = true
                }
                currentUserKey.removeAll(keepingCapacity: true)
                currentUserKey.append(contentsOf: userKey)
                hasCurrentKey = true
                previousStripe = -1
            }

            let stripe = stripeOf(sequence)
            var drop = false
            if stripe == previousStripe {
                // A newer entry of this key is visible to exactly the same readers.
                drop = true
            } else if kind == .deletion && stripe == 0 && isBaseLevel(forUserKey: userKey) {
                // Every reader sees this deletion and nothing older lies
                // below; older entries here share its stripe and go too.
                drop = true
            } else if rangeDeletions.hides(userKey, sequence: sequence) {
                // Covered by a newer range tombstone in the same stripe.
                drop = true
            }
            previousStripe = stripe

            if !drop {
                if cutBeforeNextKept {
                    try finishOutput(nextUserKey: currentUserKey, rangeDeletions: rangeDeletions)
                    cutBeforeNextKept = false
                }
                if builder == nil { try openOutput(lower: currentUserKey) }
                try builder!.add(key, input.value)
                if firstPointKey == nil { firstPointKey = key.array }
                lastPointKey.removeAll(keepingCapacity: true)
                lastPointKey.append(contentsOf: key)
            }
            input.next()
        }
        if let e = input.status() { throw e }
        if builder != nil {
            try finishOutput(nextUserKey: nil, rangeDeletions: rangeDeletions)
        } else if outputs.isEmpty && !rangeDeletions.isEmpty,
                  !rangeDeletions.pieces(lower: nil, upper: nil, droppable: droppable).isEmpty {
            // Only tombstones survive: they still need a file.
            try openOutput(lower: [])
            try finishOutput(nextUserKey: nil, rangeDeletions: rangeDeletions)
        }
    }

    private func computeInputRange() {
        let files = compaction.inputs.flatMap { $0 }
        guard var lo = files.first?.smallest, var hi = files.first?.largest else { return }
        for f in files {
            if comparator.compareInternal(f.smallest, lo) < 0 { lo = f.smallest }
            if comparator.compareInternal(f.largest, hi) > 0 { hi = f.largest }
        }
        inputLowest = lo.withUnsafeBytes { userKeyOf($0).array }
        inputHighest = hi.withUnsafeBytes { userKeyOf($0).array }
    }

    /// Whether tombstones over `[begin, end)` may be dropped: the piece lies
    /// inside the input range and no deeper level holds a file overlapping it.
    private func droppable(_ begin: [UInt8], _ end: [UInt8]) -> Bool {
        if comparator.compare(begin, inputLowest) < 0 || comparator.compare(end, inputHighest) > 0 { return false }
        for level in (compaction.outputLevel + 1)..<Version.numLevels {
            if !compaction.version.overlappingFiles(level: level, smallestUserKey: begin, largestUserKey: end).isEmpty {
                return false
            }
        }
        return true
    }

    /// Number of snapshots below `sequence`: two entries of one key are
    /// separated by a snapshot exactly when their stripes differ.
    @inline(__always)
    private func stripeOf(_ sequence: SequenceNumber) -> Int {
        if snapshots.isEmpty { return 0 }
        var lo = 0, hi = snapshots.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if snapshots[mid] < sequence { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    /// True when no level below the output level holds a file whose range
    /// contains `userKey`. Keys must be asked in ascending order.
    private func isBaseLevel(forUserKey userKey: UnsafeRawBufferPointer) -> Bool {
        let v = compaction.version
        var level = compaction.outputLevel + 1
        while level < Version.numLevels {
            let files = v.files[level]
            var i = baseLevelCursors[level]
            while i < files.count && files[i].compareToLargest(userKey, keyOrder) > 0 { i += 1 }
            baseLevelCursors[level] = i
            if i < files.count && files[i].compareToSmallest(userKey, keyOrder) >= 0 { return false }
            level += 1
        }
        return true
    }

    /// Advances over grandparent files that end before `userKey`, counting
    /// the bytes the current output overlaps; true (and a reset) when they
    /// exceed the limit, so the output should end before this key.
    private func grandparentLimitReached(before userKey: UnsafeRawBufferPointer) -> Bool {
        let gp = compaction.grandparents
        while grandparentIndex < gp.count && gp[grandparentIndex].compareToLargest(userKey, keyOrder) > 0 {
            if seenKey { grandparentOverlap += gp[grandparentIndex].size }
            grandparentIndex += 1
        }
        seenKey = true
        if grandparentOverlap > compaction.maxGrandparentOverlapBytes {
            grandparentOverlap = 0
            return true
        }
        return false
    }

    // MARK: Output files

    private func openOutput(lower: [UInt8]) throws {
        let number = env.newOutputNumber()
        allocatedNumbers.append(number)
        builderNumber = number
        let file = try env.fileSystem.createFile(at: DBPaths.table(env.directory, number))
        builderFile = file
        builder = TableBuilder(file: file, options: env.tableOptions)
        outputLower = outputs.isEmpty ? nil : lower
    }

    /// Finishes the current output: range tombstones, footer, fsync, close.
    private func finishOutput(nextUserKey: [UInt8]?, rangeDeletions: CompactionRangeDeletions) throws {
        guard let b = builder, let file = builderFile else { return }
        // Tombstone fragments in [outputLower, nextUserKey) go into this file.
        for t in rangeDeletions.pieces(lower: outputLower, upper: nextUserKey, droppable: droppable) {
            try b.addRangeTombstone(t)
        }
        let props = try b.finish()
        try file.sync()
        try file.close()
        // Bounds are the point entries' (see CompactionRangeDeletions); a
        // file of tombstones only spans the compaction's input range.
        let smallest: [UInt8]
        let largest: [UInt8]
        if let first = firstPointKey {
            smallest = first
            largest = lastPointKey
        } else {
            smallest = makeInternalKey(inputLowest, maxSequenceNumber, .rangeDeletion)
            largest = makeInternalKey(inputHighest, 0, .deletion)
        }
        firstPointKey = nil
        lastPointKey.removeAll(keepingCapacity: true)
        outputs.append(FileMetaData(number: builderNumber, size: props.fileSize, smallest: smallest,
                                    largest: largest, numEntries: props.numEntries))
        bytesWritten += props.fileSize
        builder = nil
        builderFile = nil
        builderNumber = 0
        grandparentOverlap = 0
    }
}
