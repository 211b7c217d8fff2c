import Strata

/// Seek benchmarks (db_bench semantics).
extension BenchRunner {
    /// seekrandom: each thread does --reads (or --num) seeks to random keys
    /// below --num on one iterator, each followed by --seek_nexts next()
    /// calls; "found" counts seeks that landed exactly on their key.
    func runSeekRandom(_ name: String) throws {
        let db = self.db!
        let perThread = flags.reads < 0 ? flags.num : flags.reads
        let flags = self.flags
        let base = flags.seed &+ runCount &* 1_000_003
        let result = try runThreads { thread, hist in
            var rng = SplitMix64(seed: base &+ UInt64(thread) &* 104_729 &+ 29)
            var key = [UInt8](repeating: 0x30, count: flags.keySize)
            let it = try db.makeIterator()
            var found = 0
            var bytes = 0
            for _ in 0..<perThread {
                encodeKey(rng.next() % UInt64(flags.num), into: &key)
                let t0 = nowNanoseconds()
                it.seek(key)
                if it.isValid {
                    if it.withKeyAndValue({ k, _ in k.elementsEqual(key) }) { found += 1 }
                    bytes += it.withKeyAndValue { $0.count + $1.count }
                    var j = 0
                    while j < flags.seekNexts && it.isValid {
                        it.next()
                        if it.isValid { bytes += it.withKeyAndValue { $0.count + $1.count } }
                        j += 1
                    }
                }
                hist.record(nowNanoseconds() - t0)
            }
            try it.checkStatus()
            return (perThread, bytes, "(\(found) of \(perThread) found)")
        }
        report(name, result)
    }
}

/// Range deletion workload.
extension BenchRunner {
    /// deleterange: one range delete per thread over every key a fill of
    /// --num keys wrote for that thread.
    func runDeleteRange(_ name: String) throws {
        let db = self.db!
        let flags = self.flags
        let result = try runThreads { thread, hist in
            var from = [UInt8](repeating: 0x30, count: flags.keySize)
            var to = from
            encodeKey(UInt64(thread * flags.num), into: &from)
            encodeKey(UInt64((thread + 1) * flags.num), into: &to)
            let t0 = nowNanoseconds()
            try db.deleteRange(from: from, to: to)
            hist.record(nowNanoseconds() - t0)
            return (1, from.count + to.count, "")
        }
        report(name, result)
    }
}
