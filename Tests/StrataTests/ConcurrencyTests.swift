import Foundation
import Synchronization
import Testing
@testable import Strata

/// Several writer threads and readers at once: every acknowledged write is
/// readable, group commit shares fsyncs, iterators see sorted consistent data.
@Suite(.offCooperativePool) struct ConcurrencyTests {
    @Test func concurrentWritersAndReaders() throws {
        let dir = TempDir("conc")
        defer { dir.cleanup() }
        var o = Options()
        o.writeBufferSize = 256 << 10  // several flushes during the test
        let db = try Database.open(at: dir.path, options: o)
        let writers = 4, perWriter = 1500
        let acknowledged = Locked<[Int]>([Int](repeating: -1, count: writers))
        let failures = Locked<[String]>([])
        let done = Atomic<Int>(0)
        let group = DispatchGroup()

        for w in 0..<writers {
            group.enter()
            Thread {
                defer { group.leave() }
                for i in 0..<perWriter {
                    do {
                        let mode: CommitMode = i % 10 == 0 ? .syncDurable : .asyncDurable(groupWindow: .milliseconds(2))
                        try db.put(utf8("w\(w)-\(String(format: "%05d", i))"), utf8("v\(i)"), options: WriteOptions(commitMode: mode))
                        acknowledged.withLock { $0[w] = i }
                    } catch {
                        failures.withLock { $0.append("write: \(error)") }
                        return
                    }
                }
                done.add(1, ordering: .relaxed)
            }.start()
        }
        for r in 0..<2 {
            group.enter()
            Thread {
                defer { group.leave() }
                while done.load(ordering: .relaxed) < writers {
                    // Everything acknowledged before this read must be visible.
                    let acked = acknowledged.withLock { $0 }
                    for w in 0..<writers where acked[w] >= 0 {
                        let i = acked[w]
                        do {
                            let v = try db.get(utf8("w\(w)-\(String(format: "%05d", i))"))
                            if v != utf8("v\(i)") { failures.withLock { $0.append("reader \(r): w\(w) #\(i) not visible") } }
                        } catch {
                            failures.withLock { $0.append("get: \(error)") }
                        }
                    }
                    do {
                        let it = try db.makeIterator()
                        it.seekToFirst()
                        var prev: [UInt8]?
                        while it.isValid {
                            let k = it.key
                            if let p = prev, !p.lexicographicallyPrecedes(k) {
                                failures.withLock { $0.append("iterator out of order") }
                            }
                            prev = k
                            it.next()
                        }
                        try it.checkStatus()
                    } catch {
                        failures.withLock { $0.append("iterate: \(error)") }
                    }
                }
            }.start()
        }
        group.wait()
        #expect(failures.withLock { $0 }.isEmpty, "\(failures.withLock { $0.prefix(5) })")
        for w in 0..<writers {
            for i in stride(from: 0, to: perWriter, by: 7) {
                #expect(try db.get(utf8("w\(w)-\(String(format: "%05d", i))")) == utf8("v\(i)"))
            }
        }
        #expect(db.statistics.writeBatches == UInt64(writers * perWriter))
        try db.close()
        // And after reopen.
        let again = try Database.open(at: dir.path, options: o)
        for w in 0..<writers {
            #expect(try again.get(utf8("w\(w)-\(String(format: "%05d", perWriter - 1))")) == utf8("v\(perWriter - 1)"))
        }
        try again.close()
    }

    @Test func syncWritersShareFsyncs() throws {
        let dir = TempDir("gc")
        defer { dir.cleanup() }
        let db = try Database.open(at: dir.path)
        let group = DispatchGroup()
        let threads = 8, each = 40
        for t in 0..<threads {
            group.enter()
            Thread {
                defer { group.leave() }
                for i in 0..<each {
                    try? db.put(utf8("t\(t)i\(i)"), utf8("x"), options: WriteOptions(commitMode: .syncDurable))
                }
            }.start()
        }
        group.wait()
        let s = db.statistics
        #expect(s.writeBatches == UInt64(threads * each))
        // With 8 concurrent syncing writers, groups must form: strictly fewer
        // fsyncs than writes.
        #expect(s.syncedGroups < s.writeBatches)
        for t in 0..<threads { for i in 0..<each { #expect(try db.get(utf8("t\(t)i\(i)")) == utf8("x")) } }
        try db.close()
    }
}
