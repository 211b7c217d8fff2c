/// What `Statistics` reads from the block cache, so the statistics layer
/// needs nothing from the table layer above it (`BlockCache` conforms).
protocol BlockCacheCounters: AnyObject, Sendable {
    var hits: UInt64 { get }
    var misses: UInt64 { get }
    /// Bytes charged now.
    var usage: Int { get }
    var capacity: Int { get }
}

/// What `Statistics` reads from the table cache (`TableCache` conforms).
protocol TableCacheCounters: AnyObject, Sendable {
    var hits: UInt64 { get }
    var misses: UInt64 { get }
    /// Table readers held now.
    var openCount: Int { get }
}
