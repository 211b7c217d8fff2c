import Strata

/// The expected-state oracle of the stress test.
///
/// Each worker thread owns a disjoint set of keys, so the order of its own
/// operations is the order they reached the database. A worker records each
/// operation before issuing it and marks it acknowledged after the write
/// returns. After a crash, the database must hold, for every worker, the
/// state after some prefix of its operations: at least every operation that
/// the crash model guarantees (acknowledged ones for a process kill, synced
/// ones for a power loss), at most every one attempted — and never a batch
/// partly applied, never a value that was not written.
public struct StressOperation: Sendable {
    /// Key index within the worker's key set → new value (nil = deleted).
    public var changes: [(key: Int, value: [UInt8]?)]
    public var synced: Bool

    public init(changes: [(key: Int, value: [UInt8]?)], synced: Bool) {
        self.changes = changes
        self.synced = synced
    }
}

/// One worker's key set and history within one cycle.
public struct WorkerHistory: Sendable {
    public let worker: Int
    public let keysPerWorker: Int
    /// State of the worker's keys at the start of the cycle.
    public var base: [[UInt8]?]
    public var operations: [StressOperation] = []
    /// Index of the last operation whose write returned successfully.
    public var lastAcknowledged = -1
    /// Index of the last acknowledged operation written with `.syncDurable`.
    public var lastSyncAcknowledged = -1

    public init(worker: Int, keysPerWorker: Int, base: [[UInt8]?]) {
        self.worker = worker
        self.keysPerWorker = keysPerWorker
        self.base = base
    }

    public static func key(worker: Int, index: Int) -> [UInt8] {
        Array("w\(worker)-k\(String(index + 100_000).dropFirst())".utf8)
    }

    /// The state after operations 0...upTo (upTo = -1: the base).
    public func state(after upTo: Int) -> [[UInt8]?] {
        var s = base
        if upTo >= 0 { for op in operations[0...upTo] { for c in op.changes { s[c.key] = c.value } } }
        return s
    }

    /// Finds the prefix length the database shows, between `lowest` and the
    /// last attempted operation; nil when no prefix matches.
    public func matchingPrefix(actual: [[UInt8]?], lowest: Int) -> Int? {
        var s = state(after: lowest)
        var mismatches = 0
        for i in 0..<keysPerWorker where s[i] != actual[i] { mismatches += 1 }
        if mismatches == 0 { return lowest }
        var m = lowest
        while m + 1 < operations.count {
            m += 1
            for c in operations[m].changes {
                let before = s[c.key] == actual[c.key]
                s[c.key] = c.value
                let after = s[c.key] == actual[c.key]
                if before && !after { mismatches += 1 }
                if !before && after { mismatches -= 1 }
            }
            if mismatches == 0 { return m }
        }
        return nil
    }
}

/// The column family every stress batch is mirrored into.
public let shadowFamilyName = "shadow"

/// Opens or creates the shadow family.
@discardableResult
public func ensureShadowFamily(_ db: Database) throws -> ColumnFamily {
    try db.columnFamily(shadowFamilyName) ?? db.createColumnFamily(shadowFamilyName)
}

/// Reads a worker's keys from the database (default family).
public func readWorkerState(_ db: Database, worker: Int, keysPerWorker: Int) throws -> [[UInt8]?] {
    try (0..<keysPerWorker).map { try db.get(WorkerHistory.key(worker: worker, index: $0)) }
}

/// Reads a worker's keys from the default and the shadow family; a
/// difference means a cross-family batch was partly applied.
public func readCheckedWorkerState(_ db: Database, worker: Int, keysPerWorker: Int) throws -> (state: [[UInt8]?], mismatch: Int?) {
    let shadow = db.columnFamily(shadowFamilyName)
    var state: [[UInt8]?] = []
    var mismatch: Int?
    for i in 0..<keysPerWorker {
        let k = WorkerHistory.key(worker: worker, index: i)
        let v = try db.get(k)
        let mirrored = shadow == nil ? v : try db.get(k, in: shadow)
        if v != mirrored && mismatch == nil { mismatch = i }
        state.append(v)
    }
    return (state, mismatch)
}
