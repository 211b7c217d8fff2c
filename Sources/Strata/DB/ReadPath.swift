/// Point reads and iterator construction.
extension DBCore {
    func get(_ key: [UInt8], in family: ColumnFamily?, options readOptions: ReadOptions) throws -> [UInt8]? {
        try checkOpen()
        let cf = try resolve(family)
        // Sources and sequence together (see `readState`).
        let (sv, seq) = readState(readOptions.snapshot, in: cf)
        statistics.recordGet()
        return try key.withUnsafeBytes { (k) throws -> [UInt8]? in
            switch sv.mem.get(k, snapshotSequence: seq) {
            case .found(let v): return v
            case .deleted: return nil
            case .notFound: break
            }
            if let imm = sv.imm {
                switch imm.get(k, snapshotSequence: seq) {
                case .found(let v): return v
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
                        let table = try tableCache.reader(for: file)
                        switch try table.get(lk, verifyChecksums: readOptions.verifyChecksums, fillCache: readOptions.fillCache) {
                        case .found(let kind, _, let value):
                            return kind == .value ? value : nil
                        case .notFound:
                            continue
                        }
                    }
                }
                return nil
            }
        }
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
        var children: [any InternalIterator] = [sv.mem.makeIterator()]
        if let imm = sv.imm { children.append(imm.makeIterator()) }
        let version = sv.version
        for file in version.files[0] {
            do {
                children.append(try tableCache.reader(for: file).makeIterator(
                    verifyChecksums: readOptions.verifyChecksums, fillCache: readOptions.fillCache))
            } catch let e as StrataError {
                children.append(EmptyIterator(error: e))
            }
        }
        for level in 1..<version.files.count where !version.files[level].isEmpty {
            children.append(LevelIterator(files: version.files[level], tables: tableCache,
                                          verifyChecksums: readOptions.verifyChecksums, fillCache: readOptions.fillCache))
        }
        let merged: any InternalIterator = children.count == 1 ? children[0] : MergingIterator(children)
        return Iterator(iter: merged, sequence: snapshot.sequence, lowerBound: readOptions.lowerBound,
                        upperBound: readOptions.upperBound, pins: [sv, snapshot])
    }
}
