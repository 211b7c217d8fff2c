/// The decompressed bytes of one block, immutable once built, with its
/// restart array checked.
///
/// `@unchecked Sendable`: the bytes are written before `init` returns and
/// never again; every property is a `let`; the memory is freed only in
/// `deinit`, when no reader can hold the block any more.
final class Block: @unchecked Sendable {
    /// Base of the block bytes (entries, restart offsets, restart count).
    let base: UnsafeRawPointer
    /// Total bytes, including the restart array.
    let size: Int
    /// Offset where the restart array begins; entries live in `0..<entriesEnd`
    /// (0 for a block without entries).
    let entriesEnd: Int
    /// Number of restart points (0 only for a block with no entries).
    let restartCount: Int
    /// File and offset the block came from, for error messages.
    let path: String
    let fileOffset: UInt64

    private let storage: UnsafeMutableRawPointer

    /// Takes ownership of `storage` (allocated with `UnsafeMutableRawPointer.allocate`),
    /// of which the first `count` bytes are the block. Frees it when the block
    /// is invalid and throws `.corruption`. A block with `hasEntries: false`
    /// (a filter) is opaque bytes: no restart array, no entries.
    static func adopting(_ storage: UnsafeMutableRawPointer, count: Int, path: String, offset: UInt64, hasEntries: Bool = true) throws -> Block {
        let layout: (entriesEnd: Int, restartCount: Int)
        do {
            layout = hasEntries ? try validate(UnsafeRawBufferPointer(start: storage, count: count), path: path, offset: offset) : (0, 0)
        } catch {
            storage.deallocate()
            throw error
        }
        return Block(storage: storage, size: count, entriesEnd: layout.entriesEnd,
                     restartCount: layout.restartCount, path: path, offset: offset)
    }

    /// Copies `bytes` into a new block.
    static func copying(_ bytes: UnsafeRawBufferPointer, path: String = "<memory>", offset: UInt64 = 0, hasEntries: Bool = true) throws -> Block {
        let storage = UnsafeMutableRawPointer.allocate(byteCount: max(bytes.count, 1), alignment: 8)
        if bytes.count > 0 { storage.copyMemory(from: bytes.baseAddress!, byteCount: bytes.count) }
        return try adopting(storage, count: bytes.count, path: path, offset: offset, hasEntries: hasEntries)
    }

    static func copying(_ bytes: [UInt8], path: String = "<memory>", offset: UInt64 = 0) throws -> Block {
        try bytes.withUnsafeBytes { try copying($0, path: path, offset: offset) }
    }

    private init(storage: UnsafeMutableRawPointer, size: Int, entriesEnd: Int, restartCount: Int, path: String, offset: UInt64) {
        self.storage = storage
        self.base = UnsafeRawPointer(storage)
        self.size = size
        self.entriesEnd = entriesEnd
        self.restartCount = restartCount
        self.path = path
        self.fileOffset = offset
    }

    deinit { storage.deallocate() }

    /// Checks the restart array: it fits, the first restart is 0, and the
    /// offsets increase strictly inside the entry area. Binary search relies
    /// on this; entry decoding checks everything else as it goes.
    private static func validate(_ bytes: UnsafeRawBufferPointer, path: String, offset: UInt64) throws -> (entriesEnd: Int, restartCount: Int) {
        func bad(_ what: String) -> StrataError {
            StrataError(.corruption, "\(path): bad block at offset \(offset): \(what)")
        }
        guard bytes.count >= 4 else { throw bad("\(bytes.count) bytes is too short for a restart count") }
        let count = Int(loadFixed32(bytes.baseAddress! + bytes.count - 4))
        guard count <= (bytes.count - 4) / 4 else { throw bad("restart count \(count) does not fit in \(bytes.count) bytes") }
        let entriesEnd = bytes.count - 4 - count * 4
        if entriesEnd == 0 { return (0, 0) }
        guard count >= 1 else { throw bad("entries but no restart points") }
        var previous = -1
        for i in 0..<count {
            let r = Int(loadFixed32(bytes.baseAddress! + entriesEnd + i * 4))
            guard r > previous, r < entriesEnd, i > 0 || r == 0 else {
                throw bad("restart point \(i) (\(r)) out of order or out of range")
            }
            previous = r
        }
        return (entriesEnd, count)
    }

    /// Offset of restart point `i`; `i` must be in `0..<restartCount`.
    @inline(__always)
    func restartPoint(_ i: Int) -> Int {
        Int(loadFixed32(base + entriesEnd + i * 4))
    }

    /// The block bytes, for tests and checksumming.
    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: size) }
}
