import CStrataSupport

extension BenchRunner {
    /// crc32c: checksums 4 KiB blocks (the table block size) for 1 GiB with
    /// the hardware (SSE4.2) path and with the portable slicing-by-8 path.
    func runCRC32C() {
        let block = (0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        let rounds = (1 << 30) / block.count
        for (label, fn) in [("crc32c-hw", strata_crc32c_extend), ("crc32c-sw", strata_crc32c_extend_portable)] as [(String, (UInt32, UnsafeRawPointer?, Int) -> UInt32)] {
            var crc: UInt32 = 0
            let t0 = nowNanoseconds()
            block.withUnsafeBytes { p in
                for _ in 0..<rounds { crc = fn(crc, p.baseAddress, p.count) }
            }
            let seconds = Double(nowNanoseconds() - t0) / 1e9
            let gbps = Double(rounds * block.count) / seconds / 1e9
            print("\(label.padding(toLength: 12, withPad: " ", startingAt: 0)) : \(fmt(seconds * 1e6 / Double(rounds), 3)) micros/4KiB block; \(fmt(gbps, 2)) GB/s (hardware path available: \(strata_crc32c_is_hardware() == 1)) [\(crc)]")
        }
    }
}
