/// One table file in a version. Immutable, so versions can share it.
///
/// `smallest` and `largest` are internal keys (user key + 8-byte trailer).
final class FileMetaData: Sendable, Equatable, CustomStringConvertible {
    let number: UInt64
    let size: UInt64
    let smallest: [UInt8]
    let largest: [UInt8]
    let numEntries: UInt64

    init(number: UInt64, size: UInt64, smallest: [UInt8], largest: [UInt8], numEntries: UInt64) {
        self.number = number
        self.size = size
        self.smallest = smallest
        self.largest = largest
        self.numEntries = numEntries
    }

    /// Value equality: two descriptions of the same file are equal.
    static func == (a: FileMetaData, b: FileMetaData) -> Bool {
        a.number == b.number && a.size == b.size && a.smallest == b.smallest
            && a.largest == b.largest && a.numEntries == b.numEntries
    }

    var description: String { "#\(number) (\(size) bytes, \(numEntries) entries)" }

    /// Three-way comparison of `key` with the user key of `smallest`, in
    /// the family's order `cmp` (`KeyOrdering`: specialized for byte-wise).
    @inline(__always)
    func compareToSmallest<O: KeyOrdering>(_ key: UnsafeRawBufferPointer, _ cmp: O) -> Int {
        smallest.withUnsafeBytes { cmp.compare(key, userKeyOf($0)) }
    }

    /// Three-way comparison of `key` with the user key of `largest`, in `cmp`.
    @inline(__always)
    func compareToLargest<O: KeyOrdering>(_ key: UnsafeRawBufferPointer, _ cmp: O) -> Int {
        largest.withUnsafeBytes { cmp.compare(key, userKeyOf($0)) }
    }

    /// Whether the file's user-key range contains `key` (in order `cmp`).
    @inline(__always)
    func containsUserKey<O: KeyOrdering>(_ key: UnsafeRawBufferPointer, _ cmp: O) -> Bool {
        compareToSmallest(key, cmp) >= 0 && compareToLargest(key, cmp) <= 0
    }
}
