import Testing
@testable import Strata

/// Inputs the libFuzzer targets under Fuzz/ found crashing the engine, kept
/// as tests (the original files are in Fuzz/corpus/<target>/crash-*).
@Suite(.offCooperativePool) struct FuzzRegressionTests {
    /// FuzzWriteBatch: a batch whose header sequence (0xf6000000000003e8)
    /// does not fit the 56-bit sequence of an internal key. It decoded, and
    /// applying it to the memtable (as log replay does) trapped on the
    /// memtable's sequence-range precondition.
    static let sequenceOverflowBatch: [UInt8] = [
        0xe8, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf6,  // sequence
        0x01, 0x00, 0x00, 0x00,                          // count 1
        0x01, 0x00, 0x02, 0x6b, 0x30, 0x02, 0x76, 0x30,  // put cf 0 "k0" = "v0"
    ]

    @Test func batchWhoseSequenceDoesNotFitIsCorruption() {
        #expect(throws: StrataError.self) { try WriteBatch(decoding: Self.sequenceOverflowBatch) }
        do {
            _ = try WriteBatch(decoding: Self.sequenceOverflowBatch)
        } catch let e as StrataError {
            #expect(e.kind == .corruption)
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test func batchSequenceRangeIsCheckedAtTheBoundary() throws {
        func batch(sequence: UInt64, puts: Int) -> [UInt8] {
            var b = WriteBatch()
            for i in 0..<puts { b.put([UInt8(i)], [1]) }
            return b.encoded(sequence: sequence)
        }
        // The last record may take the largest sequence, not one more.
        #expect(try WriteBatch(decoding: batch(sequence: maxSequenceNumber, puts: 1)).count == 1)
        #expect(try WriteBatch(decoding: batch(sequence: maxSequenceNumber - 2, puts: 3)).count == 3)
        #expect(throws: StrataError.self) { try WriteBatch(decoding: batch(sequence: maxSequenceNumber, puts: 2)) }
        #expect(throws: StrataError.self) { try WriteBatch(decoding: batch(sequence: UInt64.max, puts: 1)) }
        // An empty batch carries no sequence to check beyond the range itself.
        #expect(try WriteBatch(decoding: batch(sequence: maxSequenceNumber, puts: 0)).count == 0)
    }

    /// The same batch inside an intact log record: replay treats it as a
    /// damaged batch under the recovery mode instead of trapping.
    @Test func replayOfALogHoldingTheBatchFollowsTheRecoveryMode() throws {
        for mode in [WALRecoveryMode.absoluteConsistency, .tolerateCorruptedTail, .pointInTime, .skipAnyCorruptedRecord] {
            let fs = InMemoryFileSystem()
            var options = Options()
            options.fileSystem = fs
            options.walRecovery = mode
            let db = try Database.open(at: "/db", options: options)
            try db.put(utf8("kept"), utf8("yes"), options: WriteOptions(commitMode: .syncDurable))
            try db.close()

            let log = try #require(try fs.listDirectory(at: "/db").filter { $0.hasSuffix(".log") }.max())
            let writer = LogWriter(file: try fs.openForAppend(at: "/db/" + log))
            try writer.addRecord(Self.sequenceOverflowBatch)
            try writer.close()

            switch mode {
            case .absoluteConsistency, .tolerateCorruptedTail:
                #expect(throws: StrataError.self) { try Database.open(at: "/db", options: options) }
            case .pointInTime, .skipAnyCorruptedRecord:
                let reopened = try Database.open(at: "/db", options: options)
                #expect(try reopened.get(utf8("kept")) == utf8("yes"))
                #expect(try reopened.get(utf8("k0")) == nil)
                try reopened.close()
            }
        }
    }
}

/// File numbers at the top of the 64-bit range, which made recovery trap on
/// `largest file number + 1` (reproduced through the FuzzManifest harness;
/// the input is Fuzz/corpus/FuzzManifest/crash-file-number-overflow).
@Suite(.offCooperativePool) struct FuzzFileNumberRegressionTests {
    /// The MANIFEST edit of that input: version 1, comparator, next file 10,
    /// last sequence 0, and a new file numbered 2^64 - 1; checksum appended.
    static let editFields: [UInt8] = [
        0x01, 0x01,
        0x02, 0x0f] + utf8("strata.bytewise") + [
        0x04, 0x0a,
        0x05, 0x00,
        0x0b, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,  // level 0, number 2^64 - 1
        0x01,                                                                    // size 1
        0x09, 0x61, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,             // smallest "a"@1
        0x09, 0x62, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,             // largest "b"@1
        0x01,                                                                    // 1 entry
    ]

    static var edit: [UInt8] {
        var out = editFields
        out.appendFixed32(CRC32C.mask(CRC32C.checksum(editFields)))
        return out
    }

    @Test func editWithAHugeFileNumberIsCorruption() {
        do {
            _ = try VersionEdit(decoding: Self.edit, path: "/m", offset: 0)
            Issue.record("decoded an edit naming file 2^64 - 1")
        } catch let e as StrataError {
            #expect(e.kind == .corruption)
        } catch {
            Issue.record("unexpected error \(error)")
        }
        // The same edit with a number in range decodes.
        var fields = Self.editFields
        fields.replaceSubrange(25..<35, with: [0x07])
        fields.appendFixed32(CRC32C.mask(CRC32C.checksum(fields)))
        #expect(throws: Never.self) { try VersionEdit(decoding: fields, path: "/m", offset: 0) }
    }

    @Test func recoveryOfSuchAManifestFailsWithCorruption() throws {
        let fs = InMemoryFileSystem()
        try fs.createDirectory(at: "/db")
        let current = try fs.createFile(at: "/db/CURRENT")
        try current.append(utf8("MANIFEST-000005\n"))
        let writer = LogWriter(file: try fs.createFile(at: "/db/MANIFEST-000005"))
        try writer.addRecord(Self.edit)
        try writer.close()
        let versions = VersionSet(directory: "/db", fileSystem: fs, options: Options())
        do {
            try versions.recover()
            Issue.record("recovered a manifest naming file 2^64 - 1")
        } catch let e as StrataError {
            #expect(e.kind == .corruption)
        }
    }

    @Test func directoryEntriesWithHugeNumbersAreNotTheEngines() throws {
        #expect(DBPaths.parse("18446744073709551615.log") == nil)
        #expect(DBPaths.parse("MANIFEST-9223372036854775808") == nil)
        #expect(DBPaths.parse("9223372036854775807.sst") == .table(DBPaths.maxFileNumber))
        let fs = InMemoryFileSystem()
        var options = Options()
        options.fileSystem = fs
        let db = try Database.open(at: "/db", options: options)
        try db.put(utf8("k"), utf8("v"))
        try db.close()
        try fs.createFile(at: "/db/18446744073709551615.log").close()
        let reopened = try Database.open(at: "/db", options: options)
        #expect(try reopened.get(utf8("k")) == utf8("v"))
        try reopened.close()
    }
}
