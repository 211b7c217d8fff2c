import Logging

/// Events the engine both counts in `Statistics` and logs, so the hooks in
/// the flush and write paths stay one line each.
extension DBCore {
    /// A level-0 table was written from a memtable (flush or recovery).
    func noteFlush(table number: UInt64, bytes: UInt64, entries: UInt64, duration: Duration) {
        statistics.recordFlush(bytes: bytes, duration: duration)
        logger.info("strata: flushed memtable", metadata: [
            "table": "\(number)", "bytes": "\(bytes)", "entries": "\(entries)",
            "duration-ms": "\(duration.clampedNanoseconds / 1_000_000)",
        ])
    }

    /// A writer waited `duration` for room. Short waits are routine under
    /// heavy writes (info); a second or more means writes outpace flushing
    /// or compaction (warning).
    func noteStall(_ duration: Duration, reason: String) {
        statistics.recordStall(duration)
        let ns = duration.clampedNanoseconds
        let metadata: Logger.Metadata = ["reason": "\(reason)", "duration-ms": "\(ns / 1_000_000)"]
        if ns >= 1_000_000_000 {
            logger.warning("strata: writes stalled", metadata: metadata)
        } else {
            logger.info("strata: writes stalled", metadata: metadata)
        }
    }
}
