/// Reads records back from a log written by `LogWriter`, one 32 KiB block
/// at a time with positional reads, so a large log is never held in memory.
///
/// What counts as damage, and what each `WALRecoveryMode` does with it, is
/// described in Docs/format-wal.md. In short: absolute consistency throws on
/// any damage; tolerate-corrupted-tail accepts damage only when no valid
/// fragment follows it in the file; point-in-time stops at the first damage;
/// skip-any-corrupted-record drops damaged records and resynchronizes at the
/// next FULL or FIRST fragment.
///
/// Not thread-safe; one reader is used by one thread at a time.
final class LogReader {
    private let file: any ReadableFile
    private let path: String
    private let mode: WALRecoveryMode
    /// File size when opened; reads never go past it.
    private let size: UInt64

    private let block: UnsafeMutableRawPointer
    /// File offset of the bytes in `block`.
    private var blockStart: UInt64 = 0
    /// Valid bytes in `block`; less than a block only at the end of the file.
    private var blockLength = 0
    private var position = 0
    /// File offset of the next block to load.
    private var nextBlockStart: UInt64 = 0

    private var finished = false
    /// Fragments gathered so far of a record that started with FIRST.
    private var partial: [UInt8] = []
    private var inRecord = false
    private var recordStart: UInt64 = 0
    /// Set after skipping damage, so the orphaned MIDDLE/LAST fragments of
    /// the damaged record are dropped without one report each.
    private var resyncing = false

    /// True when reading ended because of damage (point-in-time stops there;
    /// the database must then not replay any later log either).
    private(set) var stoppedAtDamage = false
    /// Descriptions of damage skipped or tolerated ("path: offset N: bad checksum").
    private(set) var damageReports: [String] = []
    /// Offset just past the last good record.
    private(set) var lastGoodOffset: UInt64 = 0
    /// Offset of the first fragment of the record `next()` last returned,
    /// so decoders of the record can name where it is.
    private(set) var lastRecordOffset: UInt64 = 0

    init(file: any ReadableFile, path: String, mode: WALRecoveryMode) {
        self.file = file
        self.path = path
        self.mode = mode
        self.size = file.size
        self.block = UnsafeMutableRawPointer.allocate(byteCount: LogFormat.blockSize, alignment: 16)
    }

    deinit { block.deallocate() }

    /// One physical fragment, or why there is none.
    private enum Fragment {
        /// A fragment with a good checksum; `payload` points into `block`.
        case data(LogFormat.FragmentType, UnsafeRawBufferPointer, offset: UInt64)
        /// The end of the file at a fragment boundary.
        case end
        /// An all-zero header (preallocated or zero-filled space); the rest
        /// of its block has been skipped.
        case zeros(offset: UInt64)
        /// A damaged fragment; `scanFrom` is where valid data may resume.
        case damage(offset: UInt64, reason: String, scanFrom: UInt64)
    }

    /// Next complete record, or nil at the end (or where the mode says to stop).
    func next() throws -> [UInt8]? {
        if finished { return nil }
        while true {
            switch try readFragment() {
            case let .data(type, payload, offset):
                let end = offset + UInt64(LogFormat.headerSize + payload.count)
                switch type {
                case .full, .first:
                    if inRecord {
                        let reason = "record has no last fragment (a new record starts at offset \(offset))"
                        if try damage(at: recordStart, reason, scanFrom: offset) { return nil }
                    }
                    resyncing = false
                    if type == .full {
                        lastRecordOffset = offset
                        lastGoodOffset = end
                        return [UInt8](payload)
                    }
                    inRecord = true
                    recordStart = offset
                    partial.removeAll(keepingCapacity: true)
                    partial.append(contentsOf: payload)
                case .middle, .last:
                    if !inRecord {
                        if resyncing { continue }
                        let reason = "\(type == .middle ? "middle" : "last") fragment without a first fragment"
                        if try damage(at: offset, reason, scanFrom: end) { return nil }
                        continue
                    }
                    partial.append(contentsOf: payload)
                    if type == .last {
                        inRecord = false
                        lastRecordOffset = recordStart
                        lastGoodOffset = end
                        let record = partial
                        partial = []
                        return record
                    }
                case .zero:
                    preconditionFailure("readFragment never returns a zero-type fragment as data")
                }
            case .end:
                if inRecord {
                    _ = try damage(at: recordStart, "incomplete record at end of file", scanFrom: size)
                }
                finished = true
                return nil
            case let .zeros(offset):
                if try validFragmentFollows(from: offset) {
                    let (at, reason) = inRecord
                        ? (recordStart, "record interrupted by zero-filled space at offset \(offset)")
                        : (offset, "zero-filled space followed by valid records")
                    if try damage(at: at, reason, scanFrom: offset) { return nil }
                } else {
                    // Zero-filled space up to the end is the end of the log.
                    if inRecord {
                        _ = try damage(at: recordStart, "incomplete record at end of log", scanFrom: size)
                    }
                    finished = true
                    return nil
                }
            case let .damage(offset, reason, scanFrom):
                if try damage(at: offset, reason, scanFrom: scanFrom) { return nil }
            }
        }
    }

    /// Applies the recovery mode to damage found at `offset`. Returns true
    /// when reading must stop; throws when the mode says the damage is fatal.
    private func damage(at offset: UInt64, _ reason: String, scanFrom: UInt64) throws -> Bool {
        let message = "\(path): offset \(offset): \(reason)"
        inRecord = false
        partial.removeAll(keepingCapacity: true)
        // Whether valid records follow matters only to tolerateCorruptedTail.
        let tornTail = mode == .tolerateCorruptedTail ? try !validFragmentFollows(from: scanFrom) : false
        switch mode.action(isTornTail: tornTail) {
        case .fail:
            finished = true
            if mode == .tolerateCorruptedTail {
                throw StrataError(.corruption, message + "; valid records follow the damage, so it is not a torn tail")
            }
            throw StrataError(.corruption, message)
        case .stop:
            damageReports.append(message + (mode == .tolerateCorruptedTail ? " (torn tail dropped)" : ""))
            stoppedAtDamage = true
            finished = true
            return true
        case .skip:
            damageReports.append(message + " (skipped)")
            resyncing = true
            return false
        }
    }

    private func loadNextBlock() throws {
        blockStart = nextBlockStart
        let want = Int(min(UInt64(LogFormat.blockSize), size - blockStart))
        blockLength = try file.read(at: blockStart, into: UnsafeMutableRawBufferPointer(start: block, count: want))
        position = 0
        nextBlockStart = blockStart + UInt64(blockLength)
        if blockLength < want { nextBlockStart = size }
    }

    private func readFragment() throws -> Fragment {
        let headerSize = LogFormat.headerSize
        while true {
            if position + headerSize > blockLength {
                if blockLength == LogFormat.blockSize || position == blockLength {
                    // The rest of a full block is padding; or this block is used up.
                    if nextBlockStart >= size { return .end }
                    try loadNextBlock()
                    continue
                }
                // A partial block at the end of the file with a few bytes left.
                let offset = blockStart + UInt64(position)
                let tail = UnsafeRawBufferPointer(start: block + position, count: blockLength - position)
                position = blockLength
                if tail.allSatisfy({ $0 == 0 }) { return .zeros(offset: offset) }
                return .damage(offset: offset, reason: "truncated fragment header at end of file", scanFrom: size)
            }
            let base = block + position
            let offset = blockStart + UInt64(position)
            let stored = loadFixed32(base)
            let length = Int(base.load(fromByteOffset: 4, as: UInt8.self))
                | Int(base.load(fromByteOffset: 5, as: UInt8.self)) << 8
            let typeByte = base.load(fromByteOffset: 6, as: UInt8.self)
            if stored == 0 && length == 0 && typeByte == 0 {
                position = blockLength
                return .zeros(offset: offset)
            }
            let end = position + headerSize + length
            if end > blockLength {
                let present = blockLength - position - headerSize
                position = blockLength
                if blockLength < LogFormat.blockSize && end <= LogFormat.blockSize {
                    return .damage(offset: offset,
                                   reason: "truncated fragment at end of file (length \(length), \(present) bytes present)",
                                   scanFrom: size)
                }
                return .damage(offset: offset, reason: "fragment length \(length) runs past the end of the block",
                               scanFrom: offset + 1)
            }
            let payload = UnsafeRawBufferPointer(start: base + headerSize, count: length)
            if !Self.checksumMatches(stored, typeByte, payload) {
                position = blockLength
                return .damage(offset: offset, reason: "bad checksum", scanFrom: offset + 1)
            }
            guard typeByte != 0, let type = LogFormat.FragmentType(rawValue: typeByte) else {
                // The checksum is good, so the length can be trusted: skip just this fragment.
                position = end
                return .damage(offset: offset, reason: "unknown fragment type \(typeByte)",
                               scanFrom: blockStart + UInt64(end))
            }
            position = end
            return .data(type, payload, offset: offset)
        }
    }

    @inline(__always)
    private static func checksumMatches(_ stored: UInt32, _ typeByte: UInt8, _ payload: UnsafeRawBufferPointer) -> Bool {
        let typeCRC = typeByte <= LogFormat.maxFragmentType
            ? LogFormat.typeCRC[Int(typeByte)]
            : withUnsafeBytes(of: typeByte) { CRC32C.checksum($0) }
        return CRC32C.extend(typeCRC, payload) == CRC32C.unmask(stored)
    }

    /// Whether a fragment with a valid checksum and a known type starts
    /// anywhere at or after `from`. Every byte position is tried (damage can
    /// shift or hide fragment boundaries), but the checksum is computed only
    /// where type and length are plausible, so the scan stays cheap.
    private func validFragmentFollows(from: UInt64) throws -> Bool {
        let blockSize = UInt64(LogFormat.blockSize)
        let headerSize = LogFormat.headerSize
        guard from < size else { return false }
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: LogFormat.blockSize, alignment: 16)
        defer { buffer.deallocate() }
        var start = from - from % blockSize
        var first = Int(from % blockSize)
        while start < size {
            let want = Int(min(blockSize, size - start))
            let count = try file.read(at: start, into: UnsafeMutableRawBufferPointer(start: buffer, count: want))
            var p = first
            while p + headerSize <= count {
                // Zero-filled space (a preallocated tail can be a mebibyte
                // or more): eight positions whose type bytes are all zero
                // are skipped with one load.
                if p + 6 + 8 <= count, (buffer + p + 6).loadUnaligned(as: UInt64.self) == 0 {
                    p += 8
                    continue
                }
                let typeByte = buffer.load(fromByteOffset: p + 6, as: UInt8.self)
                if typeByte >= 1 && typeByte <= LogFormat.maxFragmentType {
                    let length = Int(buffer.load(fromByteOffset: p + 4, as: UInt8.self))
                        | Int(buffer.load(fromByteOffset: p + 5, as: UInt8.self)) << 8
                    if p + headerSize + length <= count {
                        let payload = UnsafeRawBufferPointer(start: buffer + p + headerSize, count: length)
                        if Self.checksumMatches(loadFixed32(buffer + p), typeByte, payload) { return true }
                    }
                }
                p += 1
            }
            if count < want { break }
            start += blockSize
            first = 0
        }
        return false
    }
}
