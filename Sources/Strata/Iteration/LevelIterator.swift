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
    @exclusivity(unchecked) private var fileIterator: (any InternalIterator)?
    @exclusivity(unchecked) private var error: StrataError?

    init(files: [FileMetaData], tables: TableCache, comparator: Comparator, verifyChecksums: Bool, fillCache: Bool) {
        self.files = files
        self.tables = tables
        self.comparator = comparator
        self.verifyChecksums = verifyChecksums
        self.fillCache = fillCache
    }

    var isValid: Bool { fileIterator?.isValid ?? false }
    var key: UnsafeRawBufferPointer { fileIterator!.key }
    var value: UnsafeRawBufferPointer { fileIterator!.value }

    func status() -> StrataError? { error ?? fileIterator?.status() }

    private func open(_ i: Int) {
        if i == index && fileIterator != nil { return }
        if let e = fileIterator?.status(), error == nil { error = e }
        index = i
        guard i >= 0 && i < files.count else {
            fileIterator = nil
            return
        }
        do {
            let reader = try tables.reader(for: files[i], comparator: comparator)
            fileIterator = reader.makeIterator(verifyChecksums: verifyChecksums, fillCache: fillCache)
        } catch let e as StrataError {
            error = error ?? e
            fileIterator = nil
        } catch {
            self.error = self.error ?? StrataError(.ioError, "\(error)")
            fileIterator = nil
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
        fileIterator!.next()
        skipEmptyForward()
    }

    func prev() {
        fileIterator!.prev()
        skipEmptyBackward()
    }

    private func skipEmptyForward() {
        while !(fileIterator?.isValid ?? false) {
            if error != nil || fileIterator?.status() != nil { return }
            if index + 1 >= files.count {
                fileIterator = nil
                index = files.count
                return
            }
            open(index + 1)
            fileIterator?.seekToFirst()
        }
    }

    private func skipEmptyBackward() {
        while !(fileIterator?.isValid ?? false) {
            if error != nil || fileIterator?.status() != nil { return }
            if index <= 0 {
                fileIterator = nil
                index = -1
                return
            }
            open(index - 1)
            fileIterator?.seekToLast()
        }
    }
}
