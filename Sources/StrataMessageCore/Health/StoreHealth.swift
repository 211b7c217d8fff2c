import Foundation

/// How a store is doing (`MessageStore.health()`): healthy, or a warning or
/// critical state with the reasons found. A warning keeps working (disk
/// filling up); critical means writes fail or will fail soon (engine stopped
/// after an error, corruption, the connection or lock lost, disk full).
public enum StoreHealth: Sendable, Equatable, CustomStringConvertible {
    /// Nothing found.
    case healthy
    /// Working, but something needs attention.
    case warning([HealthReason])
    /// Not working, or about to stop.
    case critical([HealthReason])

    /// The status without its reasons.
    public var status: HealthStatus {
        switch self {
        case .healthy: .healthy
        case .warning: .warning
        case .critical: .critical
        }
    }

    /// Every reason found (empty when healthy).
    public var reasons: [HealthReason] {
        switch self {
        case .healthy: []
        case .warning(let r), .critical(let r): r
        }
    }

    /// The health that `reasons` amount to: critical if any reason is
    /// critical, a warning if any is a warning, healthy if there are none.
    public init(reasons: [HealthReason]) {
        if reasons.contains(where: { $0.severity == .critical }) {
            self = .critical(reasons)
        } else if reasons.isEmpty {
            self = .healthy
        } else {
            self = .warning(reasons)
        }
    }

    /// `strata health`'s exit code: 0 healthy, 1 warning, 2 critical.
    public var exitCode: Int32 { status.exitCode }

    public var description: String {
        reasons.isEmpty ? "healthy" : "\(status): " + reasons.map(\.description).joined(separator: "; ")
    }
}

/// The three health levels, ordered healthy < warning < critical.
public enum HealthStatus: String, Sendable, Comparable, Codable, CustomStringConvertible {
    /// Nothing found.
    case healthy
    /// Needs attention.
    case warning
    /// Not working, or about to stop.
    case critical

    /// 0, 1, 2.
    public var exitCode: Int32 {
        switch self {
        case .healthy: 0
        case .warning: 1
        case .critical: 2
        }
    }

    public static func < (a: HealthStatus, b: HealthStatus) -> Bool { a.exitCode < b.exitCode }
    public var description: String { rawValue }
}

/// One finding of a health check.
public struct HealthReason: Sendable, Equatable, Codable, CustomStringConvertible {
    /// What kind of problem.
    public enum Kind: String, Sendable, Codable {
        /// Free disk space below a threshold.
        case lowDiskSpace
        /// The engine stopped writes after a background failure.
        case backgroundError
        /// The store accepts no writes (engine read-only, database in
        /// recovery, file not writable).
        case readOnly
        /// Damaged data was found.
        case corruption
        /// The database connection or the store's lock is gone.
        case connectionLost
        /// The operating system reported an I/O failure.
        case ioError
        /// The store was closed.
        case closed
    }
    /// What kind of problem.
    public var kind: Kind
    /// Warning or critical.
    public var severity: HealthStatus
    /// What was found, with figures.
    public var message: String

    /// A finding.
    public init(_ kind: Kind, _ severity: HealthStatus, _ message: String) {
        self.kind = kind
        self.severity = severity
        self.message = message
    }

    public var description: String { "\(kind.rawValue): \(message)" }
}

/// The thresholds `health(thresholds:)` checks against.
public struct HealthThresholds: Sendable, Equatable {
    /// Free bytes on the store's file system below which health is a warning
    /// (default 1 GiB).
    public var warningFreeDiskBytes: Int64
    /// Free bytes below which health is critical (default 100 MiB).
    public var criticalFreeDiskBytes: Int64
    /// Also read the stored data to look for damage (SQLite `quick_check`,
    /// the LSM store's entity records and queue heads): proportional to the
    /// store's size, so off by default.
    public var verifyData: Bool

    /// Default thresholds: warning under 1 GiB free, critical under 100 MiB.
    public init(warningFreeDiskBytes: Int64 = 1 << 30, criticalFreeDiskBytes: Int64 = 100 << 20, verifyData: Bool = false) {
        self.warningFreeDiskBytes = warningFreeDiskBytes
        self.criticalFreeDiskBytes = criticalFreeDiskBytes
        self.verifyData = verifyData
    }

    /// The disk finding for `path`'s file system, or nil when there is
    /// enough room (or the free space cannot be read: said as nil, not as
    /// a problem, since a missing figure is not a full disk).
    package func diskReason(at path: String) -> HealthReason? {
        guard let free = DiskSpace.freeBytes(at: path) else { return nil }
        if free < criticalFreeDiskBytes {
            return HealthReason(.lowDiskSpace, .critical, "\(free) bytes free at \(path), below the critical \(criticalFreeDiskBytes)")
        }
        if free < warningFreeDiskBytes {
            return HealthReason(.lowDiskSpace, .warning, "\(free) bytes free at \(path), below the warning \(warningFreeDiskBytes)")
        }
        return nil
    }
}
