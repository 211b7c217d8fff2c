import Foundation
import Strata
import StrataMessageCore
import Synchronization

/// Delete benchmarks and readwhilewriting (db_bench semantics).
extension BenchRunner {
    /// deleteseq / deleterandom: each thread deletes --num keys, in key
    /// order (key i + thread × num) or at random below --num.
    func runDeletes(_ name: String, order: Order) throws {
        let db = self.db!
        let wopts = WriteOptions(commitMode: flags.sync ? .syncDurable : nil)
        let flags = self.flags
        let perThread = flags.num
        let base = flags.seed &+ runCount &* 1_000_003
        let result = try runThreads { thread, hist in
            var rng = SplitMix64(seed: base &+ UInt64(thread) &* 7919 &+ 3)
            var key = [UInt8](repeating: 0x30, count: flags.keySize)
            for i in 0..<perThread {
                let k = order == .sequential ? UInt64(i + thread * perThread) : rng.next() % UInt64(flags.num)
                encodeKey(k, into: &key)
                let t0 = nowNanoseconds()
                try db.delete(key, options: wopts)
                hist.record(nowNanoseconds() - t0)
            }
            return (perThread, perThread * flags.keySize, "")
        }
        report(name, result)
    }

    /// --threads readers do readrandom while one more thread overwrites
    /// random keys as fast as it can until the readers finish; the line
    /// reports the readers' operations (as db_bench does).
    func runReadWhileWriting(_ name: String) throws {
        let db = self.db!
        let flags = self.flags, values = self.values
        let stop = Atomic<Bool>(false)
        let writerDone = DispatchSemaphore(value: 0)
        let writes = Atomic<Int>(0)
        let writerError = StoreLock<(any Error)?>(nil)
        let base = flags.seed &+ runCount &* 1_000_003 &+ 77
        let writer = Thread {
            var rng = SplitMix64(seed: base)
            var key = [UInt8](repeating: 0x30, count: flags.keySize)
            var valueOffset = 0
            var n = 0
            do {
                while !stop.load(ordering: .relaxed) {
                    encodeKey(rng.next() % UInt64(flags.num), into: &key)
                    try db.put(key, values.next(&valueOffset))
                    n += 1
                }
            } catch {
                writerError.withLock { $0 = error }
            }
            writes.store(n, ordering: .relaxed)
            writerDone.signal()
        }
        writer.stackSize = 1 << 20
        writer.start()
        var result: ThreadResult
        do {
            result = try runThreads(readRandomBody())
        } catch {
            stop.store(true, ordering: .relaxed)
            writerDone.wait()
            throw error
        }
        stop.store(true, ordering: .relaxed)
        writerDone.wait()
        if let e = writerError.withLock({ $0 }) { throw e }
        result.note += " (\(writes.load(ordering: .relaxed)) writes by the writer thread)"
        report(name, result)
    }
}
