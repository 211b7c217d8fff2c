/// The one model oracle of the test suites: the key-value map a database
/// (or an iterator) should show, kept sorted by a key order, with the
/// operations the engine offers (put, delete, range delete) and the views
/// tests compare against (bounded scans both ways, seeks).
public struct SortedModel: Sendable {
    /// The key order (`<`), byte-wise by default.
    public let less: @Sendable ([UInt8], [UInt8]) -> Bool
    /// The entries, unordered; `entries(lower:upper:)` sorts them.
    public private(set) var map: [[UInt8]: [UInt8]] = [:]

    /// An empty model ordered by `less` (byte-wise when nil).
    public init(less: (@Sendable ([UInt8], [UInt8]) -> Bool)? = nil) {
        self.less = less ?? { $0.lexicographicallyPrecedes($1) }
    }

    /// The value of `key`; setting nil deletes it.
    public subscript(key: [UInt8]) -> [UInt8]? {
        get { map[key] }
        set { map[key] = newValue }
    }

    /// Number of keys.
    public var count: Int { map.count }

    /// What `deleteRange(from:to:)` does: removes every key in `[from, to)`.
    public mutating func removeRange(from: [UInt8], to: [UInt8]) {
        for k in map.keys where !less(k, from) && less(k, to) { map[k] = nil }
    }

    /// Whether `key` lies in `[lower, upper)` (nil ends are open).
    public func inBounds(_ key: [UInt8], lower: [UInt8]?, upper: [UInt8]?) -> Bool {
        (lower.map { !less(key, $0) } ?? true) && (upper.map { less(key, $0) } ?? true)
    }

    /// The entries in `[lower, upper)`, in key order.
    public func entries(lower: [UInt8]? = nil, upper: [UInt8]? = nil) -> [(key: [UInt8], value: [UInt8])] {
        map.filter { inBounds($0.key, lower: lower, upper: upper) }
            .sorted { less($0.key, $1.key) }
            .map { (key: $0.key, value: $0.value) }
    }

    /// The keys in `[lower, upper)`, in key order.
    public func keys(lower: [UInt8]? = nil, upper: [UInt8]? = nil) -> [[UInt8]] {
        entries(lower: lower, upper: upper).map(\.key)
    }

    /// `a` and `b` in key order.
    public func ordered(_ a: [UInt8], _ b: [UInt8]) -> ([UInt8], [UInt8]) {
        less(b, a) ? (b, a) : (a, b)
    }
}
