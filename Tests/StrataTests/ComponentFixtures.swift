@testable import Strata

/// Builds engine components without a `Database`: tables on an in-memory
/// file system, versions holding them, compactions over them.
final class ComponentFixture {
    /// One entry of a table: user key, sequence, kind, value.
    struct Entry: Equatable, CustomStringConvertible {
        var key: String
        var seq: UInt64
        var kind: ValueKind = .value
        var value: String = ""
        var description: String { "\(key)@\(seq)\(kind == .deletion ? " del" : kind == .value ? "=\(value)" : " range")" }
    }

    let fs = InMemoryFileSystem()
    let dir = "/components"
    let comparator = Comparator.bytewise
    let tableCache: TableCache
    private var nextNumber: UInt64 = 10

    init() {
        try! fs.createDirectory(at: dir)
        tableCache = TableCache(directory: dir, fileSystem: fs, blockCache: nil)
    }

    var tableOptions: TableBuilderOptions { TableBuilderOptions(compression: .none, comparator: comparator) }

    func newNumber() -> UInt64 {
        nextNumber += 1
        return nextNumber
    }

    /// A table holding `entries` (sorted here) and `tombstones`.
    func table(_ entries: [Entry], tombstones: [RangeTombstone] = []) throws -> FileMetaData {
        let number = newNumber()
        let file = try fs.createFile(at: DBPaths.table(dir, number))
        let b = TableBuilder(file: file, options: tableOptions)
        let sorted = entries.map { (makeInternalKey(utf8($0.key), $0.seq, $0.kind), utf8($0.value)) }
            .sorted { comparator.compareInternal($0.0, $1.0) < 0 }
        for (k, v) in sorted { try k.withUnsafeBytes { kp in try v.withUnsafeBytes { try b.add(kp, $0) } } }
        for t in tombstones { try b.addRangeTombstone(t) }
        let p = try b.finish()
        try file.close()
        return FileMetaData(number: number, size: p.fileSize, smallest: p.smallest, largest: p.largest, numEntries: p.numEntries)
    }

    /// A file description without a table behind it (for the picker).
    func meta(_ lo: String, _ hi: String, size: UInt64 = 1000) -> FileMetaData {
        FileMetaData(number: newNumber(), size: size, smallest: makeInternalKey(utf8(lo), 100, .value),
                     largest: makeInternalKey(utf8(hi), 1, .value), numEntries: 1)
    }

    func version(_ levels: [Int: [FileMetaData]]) -> Version {
        var files = Array(repeating: [FileMetaData](), count: Version.numLevels)
        for (l, f) in levels { files[l] = f }
        return Version(files: files, comparator: comparator)
    }

    /// Every entry of an internal iterator, in order.
    static func drain(_ it: any InternalIterator) -> [Entry] {
        var out: [Entry] = []
        it.seekToFirst()
        while it.isValid {
            out.append(entry(it))
            it.next()
        }
        return out
    }

    static func entry(_ it: any InternalIterator) -> Entry {
        Entry(key: String(decoding: userKeyOf(it.key), as: UTF8.self), seq: sequenceOf(it.key),
              kind: kindOf(it.key) ?? .value, value: String(decoding: it.value, as: UTF8.self))
    }

    /// Runs `c` as the engine would and returns the outputs' entries.
    func run(_ c: Compaction, snapshots: [SequenceNumber] = []) throws -> (entries: [Entry], job: CompactionJob) {
        let job = CompactionJob(compaction: c, snapshots: snapshots, environment: CompactionJob.Environment(
            directory: dir, fileSystem: fs, tableCache: tableCache, tableOptions: tableOptions,
            newOutputNumber: { [unowned self] in self.newNumber() }, shouldStop: { false }))
        _ = try job.run()
        var out: [Entry] = []
        for f in job.outputs {
            out += Self.drain(try tableCache.reader(for: f, comparator: comparator).makeIterator(verifyChecksums: true, fillCache: false))
        }
        return (out, job)
    }
}
