/// Point reads and iterator construction.
///
/// Range tombstones: a point entry with sequence `s` is deleted for a
/// reader at sequence `S` when a tombstone covering its key, from any
/// source, has a sequence `t` with `s < t <= S`. Comparing sequences rather
/// than trusting source order keeps this right however compaction moves
/// tombstones and entries between levels.
extension DBCore {
    func get(_ key: [UInt8], in family: ColumnFamily?, options readOptions: ReadOptions) throws -> [UInt8]? {
        try checkOpen()
        let cf = try resolve(family)
        // Sources and sequence together (see `readState`).
        let (sv, seq) = readState(readOptions.snapshot, in: cf)
        statistics.recordGet()
        return try key.withUnsafeBytes { (k) throws -> [UInt8]? in
            // The newest visible tombstone over `k`; entries older than it are deleted.
            let covering = sv.certainlyHasNoRangeTombstones ? 0 : try coveringSequence(sv, k, seq)
            var found: SequenceNumber = 0
            switch sv.mem.get(k, snapshotSequence: seq, sequence: &found) {
            case .found(let v): return found < covering ? nil : v
            case .deleted: return nil
            case .notFound: break
            }
            if let imm = sv.imm {
                switch imm.get(k, snapshotSequence: seq, sequence: &found) {
                case .found(let v): return found < covering ? nil : v
                case .deleted: return nil
                case .notFound: break
                }
            }
            var lookup = [UInt8]()
            lookup.reserveCapacity(k.count + 8)
            appendInternalKey(&lookup, k, seq, .forSeek)
            return try lookup.withUnsafeBytes { (lk) throws -> [UInt8]? in
                let version = sv.version
                for level in 0..<version.files.count {
                    for file in version.filesForGet(level: level, userKey: k) {
                        let table = try tableCache.reader(for: file, comparator: version.comparator)
                        switch try table.get(lk, verifyChecksums: readOptions.verifyChecksums, fillCache: readOptions.fillCache) {
                        case .found(let kind, let sequence, let value):
                            return kind == .value && sequence >= covering ? value : nil
                        case .notFound:
                            continue
                        }
                    }
                }
                return nil
            }
        }
    }

    /// The sequence of the newest range tombstone over `key` visible at
    /// `seq` in any source of `sv` (0 when none).
    private func coveringSequence(_ sv: SuperVersion, _ key: UnsafeRawBufferPointer, _ seq: SequenceNumber) throws -> SequenceNumber {
        var covering: SequenceNumber = 0
        if let f = sv.mem.rangeTombstoneFragments() {
            covering = f.maxCoveringSequence(key, atOrBelow: seq)
        }
        if let f = try sv.settledRangeDeletions(tables: tableCache).fragments {
            covering = max(covering, f.maxCoveringSequence(key, atOrBelow: seq))
        }
        return covering
    }

    func makeIterator(in family: ColumnFamily?, options readOptions: ReadOptions) throws -> Iterator {
        try checkOpen()
        let cf = try resolve(family)
        let sv: SuperVersion
        let snapshot: Snapshot
        if let s = readOptions.snapshot {
            (sv, snapshot) = (cf.superVersion, s)
        } else {
            (sv, snapshot) = readStateWithNewSnapshot(in: cf)
        }
        var settled: SettledRangeDeletions?
        var tombstones: [RangeTombstoneCursor] = []
        if !sv.certainlyHasNoRangeTombstones {
            do {
                let s = try sv.settledRangeDeletions(tables: tableCache)
                settled = s
                if let f = sv.mem.rangeTombstoneFragments() { tombstones.append(RangeTombstoneCursor(f, snapshot: snapshot.sequence)) }
                if let f = s.fragments { tombstones.append(RangeTombstoneCursor(f, snapshot: snapshot.sequence)) }
            } catch let e as StrataError {
                // Without every tombstone no entry can be trusted; report
                // the failure through the iterator's status, like other read errors.
                return Iterator(iter: EmptyIterator(error: e), comparator: cf.comparator, sequence: snapshot.sequence,
                                lowerBound: readOptions.lowerBound,
                                upperBound: readOptions.upperBound, pins: [sv, snapshot])
            }
        }
        var children: [any InternalIterator] = [sv.mem.makeIterator()]
        var maxSequences: [SequenceNumber] = [sv.mem.maxPointSequence]
        if let imm = sv.imm {
            children.append(imm.makeIterator())
            maxSequences.append(imm.maxPointSequence)
        }
        let version = sv.version
        for (i, file) in version.files[0].enumerated() {
            do {
                children.append(try tableCache.reader(for: file, comparator: version.comparator).makeIterator(
                    verifyChecksums: readOptions.verifyChecksums, fillCache: readOptions.fillCache))
            } catch let e as StrataError {
                children.append(EmptyIterator(error: e))
            }
            maxSequences.append(settled?.level0MaxPointSequence[i] ?? maxSequenceNumber)
        }
        for level in 1..<version.files.count where !version.files[level].isEmpty {
            children.append(LevelIterator(files: version.files[level], tables: tableCache, comparator: version.comparator,
                                          verifyChecksums: readOptions.verifyChecksums, fillCache: readOptions.fillCache))
            maxSequences.append(settled?.levelMaxPointSequence[level] ?? maxSequenceNumber)
        }
        if !tombstones.isEmpty {
            return Iterator(merging: MergingIterator(children, comparator: version.comparator, maxSequences: maxSequences),
                            tombstones: tombstones, comparator: version.comparator, sequence: snapshot.sequence, lowerBound: readOptions.lowerBound,
                            upperBound: readOptions.upperBound, pins: [sv, snapshot])
        }
        let merged: any InternalIterator = children.count == 1 ? children[0] : MergingIterator(children, comparator: version.comparator)
        return Iterator(iter: merged, comparator: version.comparator, sequence: snapshot.sequence, lowerBound: readOptions.lowerBound,
                        upperBound: readOptions.upperBound, pins: [sv, snapshot])
    }
}
