/// The order of a column family's user keys.
///
/// Three kinds: `.bytewise` (the default: memcmp, shorter first on a common
/// prefix), `.reverseBytewise` (exactly the opposite) and custom comparators
/// made with `init(name:compare:)`. The engine keeps keys of a family in
/// this order everywhere: memtable, tables, iterators, compaction ranges,
/// range deletions and iterator bounds.
///
/// The name is recorded in the MANIFEST and in every table the family
/// writes. A database is never read with a comparator of another name:
/// reopening a family with one fails with `.invalidArgument`, and a table
/// naming another comparator is refused. So a name must identify one order
/// forever; change the name when the order changes.
///
/// A custom comparator must be a strict total order in which two keys
/// compare equal only when their bytes are identical (bloom filters and
/// point lookups match keys by their bytes). Case-insensitive orders, for
/// example, are not allowed; "length, then bytes" or "numeric value of a
/// fixed-width field, then bytes" are.
///
/// Performance: byte-wise comparison is checked first on every call and
/// inlined (one predictable branch, then memcmp), so the default order
/// costs what it did before comparators existed; the other kinds pay one
/// extra branch (reverse) or one closure call (custom) per comparison.
public final class Comparator: Sendable, Equatable, CustomStringConvertible {
    /// Which comparison runs; decides the fast path.
    @usableFromInline
    enum Kind: UInt8, Sendable {
        case bytewise, reverseBytewise, custom
        /// A recorded name nobody supplied (dropped families during
        /// recovery, manifest dumps): orders nothing, is never used to read.
        case unresolved
    }

    /// The stable name recorded in the MANIFEST and in table properties.
    public let name: String
    @usableFromInline let kind: Kind
    /// True for `.bytewise`: a stored flag, so the hot path tests one byte.
    @usableFromInline let isBytewise: Bool
    private let customCompare: (@Sendable (UnsafeRawBufferPointer, UnsafeRawBufferPointer) -> Int)?

    /// Names starting with this are reserved for the built-in comparators.
    static let reservedPrefix = "strata."

    private init(name: String, kind: Kind, compare: (@Sendable (UnsafeRawBufferPointer, UnsafeRawBufferPointer) -> Int)?) {
        self.name = name
        self.kind = kind
        self.isBytewise = kind == .bytewise
        self.customCompare = compare
    }

    /// A custom order. `compare(a, b)` returns a negative number when `a`
    /// sorts before `b`, zero when they are the same key (which must mean
    /// byte-identical), positive otherwise; it must be a strict total order,
    /// cheap, and must not throw or block. `name` must be non-empty and must
    /// not start with "strata." (reserved); it is checked when a family is
    /// created or opened with the comparator.
    public init(name: String, compare: @escaping @Sendable (UnsafeRawBufferPointer, UnsafeRawBufferPointer) -> Int) {
        self.name = name
        self.kind = .custom
        self.isBytewise = false
        self.customCompare = compare
    }

    /// Byte-wise order (memcmp; a prefix sorts first). The default.
    public static let bytewise = Comparator(name: "strata.bytewise", kind: .bytewise, compare: nil)

    /// The exact reverse of byte-wise order: iteration from `seekToFirst`
    /// visits the byte-wise largest key first.
    public static let reverseBytewise = Comparator(name: "strata.reverse-bytewise", kind: .reverseBytewise, compare: nil)

    /// A stand-in for a recorded comparator name that cannot be resolved;
    /// versions built with it skip ordering checks and are never read.
    static func unresolved(named name: String) -> Comparator {
        Comparator(name: name, kind: .unresolved, compare: nil)
    }

    /// The built-in comparator called `name`, if any.
    static func builtIn(named name: String) -> Comparator? {
        switch name {
        case bytewise.name: bytewise
        case reverseBytewise.name: reverseBytewise
        default: nil
        }
    }

    /// Comparators are the same order when their names are equal.
    public static func == (a: Comparator, b: Comparator) -> Bool { a.name == b.name }

    /// The name.
    public var description: String { name }

    /// Three-way comparison of two user keys under this order.
    public func compare(_ a: [UInt8], _ b: [UInt8]) -> Int {
        a.withUnsafeBytes { pa in b.withUnsafeBytes { pb in compare(pa, pb) } }
    }

    /// Throws `.invalidArgument` when a custom comparator's name is unusable.
    func validate() throws {
        guard kind == .custom else { return }
        guard !name.isEmpty, name.utf8.count <= 256 else {
            throw StrataError(.invalidArgument, "a comparator name must have 1 ... 256 bytes (got \(name.utf8.count))")
        }
        guard !name.hasPrefix(Self.reservedPrefix) else {
            throw StrataError(.invalidArgument, "comparator name \"\(name)\" starts with the reserved prefix \"\(Self.reservedPrefix)\"")
        }
    }

    // MARK: Hot path

    /// Three-way comparison (-1, 0, 1 or any sign for custom) of two user keys.
    @inline(__always)
    func compare(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Int {
        if _fastPath(isBytewise) { return compareBytes(a, b) }
        return compareOther(a, b)
    }

    /// The non-default kinds, kept out of line so the byte-wise path stays small.
    @inline(never)
    private func compareOther(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Int {
        switch kind {
        case .bytewise: return compareBytes(a, b)
        case .reverseBytewise: return compareBytes(b, a)
        case .custom: return customCompare.unsafelyUnwrapped(a, b)
        case .unresolved: preconditionFailure("comparator \"\(name)\" was never supplied, so keys cannot be ordered")
        }
    }

    /// Three-way comparison of two internal keys: user keys in this order,
    /// then trailers descending (newest first). Both must have >= 8 bytes.
    @inline(__always)
    func compareInternal(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Int {
        let r = compare(userKeyOf(a), userKeyOf(b))
        if r != 0 { return r }
        let ta = trailerOf(a), tb = trailerOf(b)
        return ta > tb ? -1 : (ta < tb ? 1 : 0)
    }

    /// `compareInternal` for arrays.
    func compareInternal(_ a: [UInt8], _ b: [UInt8]) -> Int {
        a.withUnsafeBytes { pa in b.withUnsafeBytes { pb in compareInternal(pa, pb) } }
    }

    /// Compares the user keys of two internal keys.
    func compareUserKeysOf(_ a: [UInt8], _ b: [UInt8]) -> Int {
        a.withUnsafeBytes { pa in b.withUnsafeBytes { pb in compare(userKeyOf(pa), userKeyOf(pb)) } }
    }

    /// Whether index keys may be shortened with the byte-wise separator
    /// rules (`KeySeparator`); other orders store whole keys in the index.
    var canShortenIndexKeys: Bool { isBytewise }
}
