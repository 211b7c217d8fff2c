import Testing
@testable import Strata

/// MANIFEST rotation by size: once the MANIFEST passes
/// `Options.maxManifestFileSize`, the next edit starts a new one from a
/// snapshot, so it stays bounded; a crash or power loss at any step of the
/// rotation reopens to every synced write.
@Suite(.offCooperativePool) struct ManifestRotationTests {
    static func options(_ fs: any FileSystem, limit: UInt64) -> Options {
        var o = Options()
        o.fileSystem = fs
        o.logger.logLevel = .warning
        o.maxManifestFileSize = limit
        o.level0FileNumCompactionTrigger = 1000  // only flushes edit the MANIFEST
        o.level0SlowdownWritesTrigger = 1000
        o.level0StopWritesTrigger = 1000
        o.commitMode = .syncDurable
        return o
    }

    static func manifests(_ fs: any FileSystem, _ dir: String) throws -> [String] {
        try fs.listDirectory(at: dir).filter { $0.hasPrefix("MANIFEST-") }.sorted()
    }

    @Test func manifestStaysBoundedAndRotates() throws {
        let fs = InMemoryFileSystem()
        let limit: UInt64 = 2 << 10
        let db = try Database.open(at: "/rot", options: Self.options(fs, limit: limit))
        let first = db.core.versions.manifestFileNumber
        var largest: UInt64 = 0
        for i in 0..<120 {
            try db.put(utf8("key\(i)"), utf8("value\(i)"))
            try db.flush()
            let number = db.core.versions.manifestFileNumber
            largest = max(largest, try fs.fileSize(at: DBPaths.manifest("/rot", number)))
        }
        let last = db.core.versions.manifestFileNumber
        #expect(last != first, "the MANIFEST never rotated")
        // One snapshot (120 files' metadata) plus one edit past the limit at most.
        #expect(largest < limit + 8 << 10, "MANIFEST grew to \(largest) bytes")
        #expect(try Self.manifests(fs, "/rot") == [DBPaths.manifestName(last)])
        try db.close()
        let again = try Database.open(at: "/rot", options: Self.options(fs, limit: limit))
        for i in 0..<120 { #expect(try again.get(utf8("key\(i)")) == utf8("value\(i)")) }
        #expect(again.core.versions.current(0).files[0].count == 120)
        try again.close()
    }

    /// Every operation of a run that rotates the MANIFEST (tiny limit, so
    /// each flush rotates) is in turn the last one before a crash; after a
    /// power loss (torn writes every other time) the database opens with
    /// every synced write.
    @Test func crashAtEveryStepOfARotation() throws {
        let setup = FaultInjectionFileSystem()
        do {
            let db = try Database.open(at: "/crash", options: Self.options(setup, limit: 1))
            for i in 0..<20 { try db.put(utf8("base\(i)"), utf8("v\(i)")) }
            try db.flush()
            try db.close()
        }
        // How many operations three rotating flushes take (on a copy).
        let counting = FaultInjectionFileSystem()
        try Self.copy(setup, into: counting, dir: "/crash")
        let probe = try Database.open(at: "/crash", options: Self.options(counting, limit: 1))
        let before = counting.operationCount()
        for i in 0..<3 {
            try probe.put(utf8("new\(i)"), utf8("v\(i)"))
            try probe.flush()
        }
        let total = counting.operationCount() - before
        try probe.close()
        #expect(total > 20)

        for n in 1...total {
            let fs = FaultInjectionFileSystem(seed: UInt64(n))
            try Self.copy(setup, into: fs, dir: "/crash")
            let o = Self.options(fs, limit: 1)
            var acknowledged: [Int] = []
            do {
                let db = try Database.open(at: "/crash", options: o)
                fs.inject(FaultRule(Set(FileOperation.allCases), trigger: .fromCall(n)))
                for i in 0..<3 {
                    do {
                        try db.put(utf8("new\(i)"), utf8("v\(i)"))
                        acknowledged.append(i)
                        try db.flush()
                    } catch { break }
                }
                fs.crash()
                try? db.close()
            }
            fs.clearFaults()
            try fs.simulatePowerLoss(tornWrites: n % 2 == 0)
            let db = try Database.open(at: "/crash", options: o)
            for i in 0..<20 { #expect(try db.get(utf8("base\(i)")) == utf8("v\(i)"), "crash at op \(n) of \(total)") }
            for i in acknowledged { #expect(try db.get(utf8("new\(i)")) == utf8("v\(i)"), "crash at op \(n) of \(total): synced write \(i) lost") }
            #expect(try Self.manifests(fs, "/crash").count >= 1)
            try db.close()
        }
    }

    /// Copies every file of `dir` from one file system to another (synced).
    static func copy(_ from: any FileSystem, into to: FaultInjectionFileSystem, dir: String) throws {
        try to.createDirectory(at: dir)
        for name in try from.listDirectory(at: dir) where name != "LOCK" {
            let r = try from.openForReading(at: dir + "/" + name)
            let bytes = try r.readAll(path: dir + "/" + name)
            r.close()
            let w = try to.createFile(at: dir + "/" + name)
            try bytes.withUnsafeBytes { try w.append($0) }
            try w.sync()
            try w.close()
        }
        try to.syncDirectory(at: dir)
    }
}
