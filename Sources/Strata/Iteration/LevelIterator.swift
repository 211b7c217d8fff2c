/// Iterates the files of one sorted level (level >= 1) as one stream,
/// opening each file's table iterator only when the cursor reaches it.
final class LevelIterator: InternalIterator {
    private let files: [FileMetaData]
    private let tables: TableCache
    /// The level's family's key order.
    private let comparator: Comparator
    private let verifyChecksums: Bool
    private let fillCache: Bool
    @exclusivity(unchecked) private var index = -1
    /// The open file's iterator. Set only through `setFileIterator`, which
    /// keeps `current` in step with it.
    @exclusivity(unchecked) private var fileIterator: TableIterator?
    /// `fileIterator` without ownership: the per-entry calls (`key`,
    /// `value`, `next`) go through it, so they cost no retain/release pair
    /// each (`fileIterator` keeps the object alive).
    @exclusivity(unchecked) private var current: Unmanaged<TableIterator>?
    @exclusivity(unchecked) private var error: StrataError?

    init(files: [FileMetaData], tables: TableCache, comparator: Comparator, verifyChecksums: Bool, fillCache: Bool) {
        self.files = files
        self.tables = tables
        self.comparator = comparator
        self.verifyChecksums = verifyChecksums
        self.fillCache = fillCache
    }

    var isValid: Bool { current?._withUnsafeGuaranteedRef { $0.isValid } ?? false }
    var key: UnsafeRawBufferPointer { current!._withUnsafeGuaranteedRef { $0.key } }
    var value: UnsafeRawBufferPointer { current!._withUnsafeGuaranteedRef { $0.value } }

    private func setFileIterator(_ it: TableIterator?) {
        fileIterator = it
        current = it.map { Unmanaged.passUnretained($0) }
    }

    func status() -> StrataError? { error ?? fileIterator?.status() }

    private func open(_ i: Int) {
        if i == index && fileIterator != nil { return }
        if let e = fileIterator?.status(), error == nil { error = e }
        index = i
        guard i >= 0 && i < files.count else {
            setFileIterator(nil)
            return
        }
        do {
            let reader = try tables.reader(for: files[i], comparator: comparator)
            setFileIterator(reader.makeTableIterator(verifyChecksums: verifyChecksums, fillCache: fillCache))
        } catch let e as StrataError {
            error = error ?? e
            setFileIterator(nil)
        } catch {
            self.error = self.error ?? StrataError(.ioError, "\(error)")
            setFileIterator(nil)
        }
    }

    func seekToFirst() {
        open(0)
        fileIterator?.seekToFirst()
        skipEmptyForward()
    }

    func seekToLast() {
        open(files.count - 1)
        fileIterator?.seekToLast()
        skipEmptyBackward()
    }

    func seek(_ target: UnsafeRawBufferPointer) {
        // First file whose largest key is >= target.
        var lo = 0, hi = files.count
        while lo < hi {
            let mid = (lo + hi) / 2
            let c = files[mid].largest.withUnsafeBytes { comparator.compareInternal($0, target) }
            if c < 0 { lo = mid + 1 } else { hi = mid }
        }
        open(lo)
        fileIterator?.seek(target)
        skipEmptyForward()
    }

    func next() {
        current!._withUnsafeGuaranteedRef { $0.next() }
        skipEmptyForward()
    }

    func prev() {
        current!._withUnsafeGuaranteedRef { $0.prev() }
        skipEmptyBackward()
    }

    private func skipEmptyForward() {
        while !isValid {
            if error != nil || fileIterator?.status() != nil { return }
            if index + 1 >= files.count {
                setFileIterator(nil)
                index = files.count
                return
            }
            open(index + 1)
            fileIterator?.seekToFirst()
        }
    }

    private func skipEmptyBackward() {
        while !isValid {
            if error != nil || fileIterator?.status() != nil { return }
            if index <= 0 {
                setFileIterator(nil)
                index = -1
                return
            }
            open(index - 1)
            fileIterator?.seekToLast()
        }
    }
}
