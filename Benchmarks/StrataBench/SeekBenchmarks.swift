import Strata

/// Seek and delete workloads: `seekrandom` (db_bench semantics: each op is
/// a seek to a random key followed by up to `seekNexts` nexts), `deleteseq`
/// (point-delete keys 0..<num in order) and `deleterange` (one range
/// delete over every key a fill wrote). `deleteseq` or `deleterange`
/// followed by `seekrandom` shows what iterating over deleted data costs.
extension BenchRunner {
    /// Nexts after each seek in `seekrandom`.
    static let seekNexts = 10

    func runSeekRandom(_ name: String) throws {
        let db = self.db!
        let perThread = flags.reads < 0 ? flags.num : flags.reads
        let flags = self.flags
        let base = flags.seed &+ runCount &* 1_000_003
        let result = try runThreads { thread, hist in
            var rng = SplitMix64(seed: base &+ UInt64(thread) &* 15_485_863 &+ 29)
            var key = [UInt8](repeating: 0x30, count: flags.keySize)
            let it = try db.makeIterator()
            var found = 0
            var bytes = 0
            for _ in 0..<perThread {
                encodeKey(rng.next() % UInt64(flags.num), into: &key)
                let t0 = nowNanoseconds()
                it.seek(key)
                if it.isValid { found += 1 }
                var n = 0
                while it.isValid && n < Self.seekNexts {
                    bytes += it.withKeyAndValue { $0.count + $1.count }
                    it.next()
                    n += 1
                }
                hist.record(nowNanoseconds() - t0)
            }
            try it.checkStatus()
            return (perThread, bytes, "(\(found) of \(perThread) found)")
        }
        report(name, result)
    }

    func runDeleteSeq(_ name: String) throws {
        let db = self.db!
        let flags = self.flags
        let result = try runThreads { thread, hist in
            var key = [UInt8](repeating: 0x30, count: flags.keySize)
            for i in 0..<flags.num {
                encodeKey(UInt64(i + thread * flags.num), into: &key)
                let t0 = nowNanoseconds()
                try db.delete(key)
                hist.record(nowNanoseconds() - t0)
            }
            return (flags.num, flags.num * key.count, "")
        }
        report(name, result)
    }

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
