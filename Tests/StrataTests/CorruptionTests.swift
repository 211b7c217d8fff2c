import Foundation
import Testing
@testable import Strata

/// Damage on disk yields an error or the right data, never wrong data.
@Suite(.offCooperativePool) struct CorruptionTests {
    static func copyDirectory(_ from: String, _ to: String) throws {
        try FileManager.default.copyItem(atPath: from, toPath: to)
        try? FileManager.default.removeItem(atPath: to + "/LOCK")
    }

    @Test func flippedLogByteRecoversAPrefix() throws {
        let dir = TempDir("wal-src")
        defer { dir.cleanup() }
        let db = try Database.open(at: dir.path)
        let n = 20
        for i in 0..<n {
            try db.put(utf8("k\(i)"), utf8("value-\(i)"), options: WriteOptions(commitMode: .syncDurable))
        }
        let snapshotDir = TempDir("wal-crash")
        defer { snapshotDir.cleanup() }
        try Self.copyDirectory(dir.path, snapshotDir.path)  // the state a crash would leave
        try db.close()
        let log = try FileManager.default.contentsOfDirectory(atPath: snapshotDir.path).first { $0.hasSuffix(".log") && (try? FileManager.default.attributesOfItem(atPath: snapshotDir.file($0))[.size] as? Int) ?? 0 > 0 }!
        let original = try Data(contentsOf: URL(fileURLWithPath: snapshotDir.file(log)))
        for offset in Self.damageOffsets(original) {
            let work = TempDir("wal")
            defer { work.cleanup() }
            try Self.copyDirectory(snapshotDir.path, work.path)
            var damaged = original
            damaged[offset] ^= 0x10
            try damaged.write(to: URL(fileURLWithPath: work.file(log)))
            let db = try Database.open(at: work.path)  // pointInTime
            var present: [Bool] = []
            for i in 0..<n {
                let v = try db.get(utf8("k\(i)"))
                #expect(v == nil || v == utf8("value-\(i)"), "offset \(offset): wrong value")
                present.append(v != nil)
            }
            // A prefix: once a write is missing, every later one is missing.
            if let firstMissing = present.firstIndex(of: false) {
                #expect(!present[firstMissing...].contains(true), "offset \(offset): hole in recovered writes \(present)")
            }
            try db.close()
        }
    }

    /// Offsets to damage in a log image: every third byte of its records,
    /// and, when the log was live with synced writes, samples of the
    /// zero-filled space preallocated after them (its first bytes, then one
    /// every 4 KiB, and the last byte) — damaging each of its mebibytes of
    /// zeros would reopen the database hundreds of thousands of times.
    static func damageOffsets(_ image: Data) -> [Int] {
        let dataEnd = (image.lastIndex { $0 != 0 } ?? -1) + 1
        let dense = Array(stride(from: 0, to: min(image.count, dataEnd + 64), by: 3))
        let sampled = stride(from: dataEnd + 64, to: image.count, by: 4093).map { $0 }
        return dense + sampled + (image.count > dataEnd + 64 ? [image.count - 1] : [])
    }

    @Test func absoluteConsistencyRefusesDamagedLog() throws {
        let dir = TempDir("wal-abs")
        defer { dir.cleanup() }
        let db = try Database.open(at: dir.path)
        for i in 0..<5 { try db.put(utf8("k\(i)"), utf8("v"), options: WriteOptions(commitMode: .syncDurable)) }
        let crash = TempDir("wal-abs-crash")
        defer { crash.cleanup() }
        try Self.copyDirectory(dir.path, crash.path)
        try db.close()
        let log = try FileManager.default.contentsOfDirectory(atPath: crash.path).first { $0.hasSuffix(".log") && (try? FileManager.default.attributesOfItem(atPath: crash.file($0))[.size] as? Int) ?? 0 > 0 }!
        var data = try Data(contentsOf: URL(fileURLWithPath: crash.file(log)))
        data[20] ^= 0x01
        try data.write(to: URL(fileURLWithPath: crash.file(log)))
        var o = Options()
        o.walRecovery = .absoluteConsistency
        #expect { _ = try Database.open(at: crash.path, options: o) } throws: { ($0 as? StrataError)?.kind == .corruption }
        o.walRecovery = .pointInTime
        let recovered = try Database.open(at: crash.path, options: o)
        #expect(try recovered.get(utf8("k0")) == nil)  // the damaged first record and all after it are dropped
        try recovered.close()
    }
}
