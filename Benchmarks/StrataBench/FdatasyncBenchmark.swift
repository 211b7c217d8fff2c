import Foundation

extension BenchRunner {
    /// fdatasync: the disk's own rate for the smallest durable write, the
    /// ceiling a single `.syncDurable` writer can reach. Appends `value_size`
    /// bytes and fdatasyncs, `count` times, first to a file that grows with
    /// every append (the size change is metadata, so each fdatasync also
    /// commits the file system's journal), then over a region written with
    /// zeros and synced beforehand (a pure data flush — what the engine's
    /// preallocated logs pay). Prints one db_bench-style line for each.
    func runFdatasync() throws {
        let count = max(200, min(flags.num / 500, 2000))
        let payload = [UInt8](repeating: 0x78, count: flags.valueSize)
        try FileManager.default.createDirectory(atPath: flags.db, withIntermediateDirectories: true)
        let path = flags.db + "/fdatasync.probe"
        for prezeroed in [false, true] {
            let fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0o644)
            guard fd >= 0 else { throw BenchFlagError("fdatasync: cannot create \(path): errno \(errno)") }
            defer {
                close(fd)
                unlink(path)
            }
            if prezeroed {
                let zeros = [UInt8](repeating: 0, count: 1 << 20)
                let total = count * payload.count
                var written = 0
                while written < total {
                    let n = zeros.withUnsafeBytes { write(fd, $0.baseAddress, min(zeros.count, total - written + 4096)) }
                    guard n > 0 else { throw BenchFlagError("fdatasync: write failed: errno \(errno)") }
                    written += n
                }
                _ = fdatasync(fd)
                _ = lseek(fd, 0, SEEK_SET)
            }
            var hist = LatencyHistogram()
            let t0 = nowNanoseconds()
            for _ in 0..<count {
                let s = nowNanoseconds()
                let n = payload.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                guard n == payload.count, fdatasync(fd) == 0 else { throw BenchFlagError("fdatasync: write/fdatasync failed: errno \(errno)") }
                hist.record(nowNanoseconds() - s)
            }
            let seconds = Double(nowNanoseconds() - t0) / 1e9
            report(prezeroed ? "fdsync-fixed" : "fdsync-grow",
                   ThreadResult(seconds: seconds, ops: count, bytes: count * payload.count, note: "", histogram: hist))
        }
    }
}
