import Foundation
import Strata
import Testing

/// The engine part of ../shared/API.md, written the way a user writes it,
/// with a plain (not @testable) import: if a public name or signature
/// drifts from the contract, this file stops compiling.
@Suite(.offCooperativePool) struct APIContractTests {
    static func writeSynchronously(_ db: Database, _ batch: WriteBatch) throws {
        try db.write(batch, options: WriteOptions(commitMode: .syncDurable))
    }

    @Test func engineContractAsWritten() async throws {
        let root = NSTemporaryDirectory() + "strata-api-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: root) }
        let db = try Database.open(at: root + "/db", options: Options())
        try db.put(Array("k".utf8), Array("v".utf8))
        let v: [UInt8]? = try db.get(Array("k".utf8))
        #expect(v == Array("v".utf8))
        try db.delete(Array("k".utf8))

        let messages = try db.createColumnFamily("messages", options: ColumnFamilyOptions())
        let index = try db.createColumnFamily("index")
        let (k, k2, lo, hi) = (Array("a".utf8), Array("b".utf8), Array("a".utf8), Array("z".utf8))
        var batch = WriteBatch()
        batch.put(k, Array("1".utf8), in: messages)
        batch.delete(k2, in: index)
        batch.deleteRange(from: Array("c".utf8), to: Array("d".utf8), in: messages)
        try Self.writeSynchronously(db, batch)  // in an async context the async overload wins
        try await db.write(batch, options: WriteOptions(commitMode: .syncDurable))
        #expect(db.columnFamily("messages")?.name == "messages")
        #expect(db.columnFamilies.first?.name == "default")

        let snap = db.snapshot()
        let it = try db.makeIterator(in: messages, options: ReadOptions(snapshot: snap, lowerBound: lo, upperBound: hi))
        it.seekToFirst(); it.seek(k); it.seekToLast(); it.seekForPrev(k)
        var seen = 0
        while it.isValid { _ = (it.key, it.value); seen += 1; it.next() }
        it.seekToLast()
        if it.isValid { it.prev() }
        try it.checkStatus()
        #expect(seen == 1)

        try db.flush()
        try db.compactRange(nil, nil, in: messages)
        try db.createCheckpoint(at: root + "/ckpt")
        #expect(db.property("strata.stats") != nil)
        #expect(db.property("strata.num-files-at-level0") != nil)
        #expect(db.property("strata.estimate-num-keys") != nil)
        _ = db.statistics

        let engine = try BackupEngine(directory: root + "/backups")
        let info = try engine.createBackup(of: db)
        let id: Int = info.id
        #expect(try engine.backups().count == 1)
        try engine.verifyBackup(id)
        try engine.restore(info.id, to: root + "/restored")
        try engine.purgeOldBackups(keeping: 3)
        try db.dropColumnFamily(index)
        try db.close()

        var o = Options()
        o.createIfMissing = true; o.errorIfExists = false; o.writeBufferSize = 1 << 20; o.blockSize = 4096
        o.blockCacheCapacity = 1 << 20; o.compression = .none; o.compression = .lz4; o.bloomBitsPerKey = 10
        o.commitMode = .memoryOnly; o.commitMode = .asyncDurable(groupWindow: .milliseconds(5)); o.commitMode = .syncDurable
        o.walRecovery = .tolerateCorruptedTail; o.walRecovery = .absoluteConsistency; o.walRecovery = .skipAnyCorruptedRecord
        o.walRecovery = .pointInTime
        o.level0FileNumCompactionTrigger = 4; o.level0SlowdownWritesTrigger = 20; o.level0StopWritesTrigger = 36
        o.maxBytesForLevelBase = 256 << 20; o.levelSizeMultiplier = 10
        o.fileSystem = POSIXFileSystem()
        _ = o.logger
        let first = try Database.open(at: root + "/db", options: o)
        do {
            _ = try Database.open(at: root + "/db", options: o)
            Issue.record("a second open of the same database succeeded")
        } catch let e as StrataError {
            #expect(e.kind == .busy)
            _ = e.message
        }
        try first.close()
        let kinds: [StrataError.Kind] = [.corruption, .ioError, .invalidArgument, .notFound, .busy, .readOnly, .closed]
        #expect(kinds.count == 7)
    }
}
