/// Appends records to a write-ahead log (or MANIFEST) in the block format
/// of `LogFormat`.
///
/// Not thread-safe: the caller serializes all calls. Once an append fails
/// the file may end in a partial fragment, so the writer refuses further
/// records (appending after a torn fragment would turn a harmless torn tail
/// into damage in the middle of the log).
final class LogWriter {
    private let file: any WritableFile
    /// Bytes already used in the current block.
    private var blockOffset: Int
    /// Scratch space for one fragment header; zeroed padding reuses it.
    private let header: UnsafeMutableRawPointer
    private var failure: (any Error)?

    /// Continues at the end of `file`, so an existing log can be appended to.
    init(file: any WritableFile) {
        self.file = file
        self.blockOffset = Int(file.size % UInt64(LogFormat.blockSize))
        self.header = UnsafeMutableRawPointer.allocate(byteCount: 8, alignment: 8)
    }

    deinit { header.deallocate() }

    /// Bytes in the file, including buffered ones.
    var fileSize: UInt64 { file.size }

    func addRecord(_ payload: [UInt8]) throws {
        try payload.withUnsafeBytes { try addRecord($0) }
    }

    func addRecord(_ payload: UnsafeRawBufferPointer) throws {
        if let failure { throw failure }
        do {
            try writeFragments(payload)
        } catch {
            failure = error
            throw error
        }
    }

    private func writeFragments(_ payload: UnsafeRawBufferPointer) throws {
        let blockSize = LogFormat.blockSize
        let headerSize = LogFormat.headerSize
        var offset = 0
        var left = payload.count
        var isFirst = true
        repeat {
            let leftover = blockSize - blockOffset
            if leftover < headerSize {
                if leftover > 0 {
                    header.initializeMemory(as: UInt8.self, repeating: 0, count: leftover)
                    try file.append(UnsafeRawBufferPointer(start: header, count: leftover))
                }
                blockOffset = 0
            }
            let available = blockSize - blockOffset - headerSize
            let length = min(left, available)
            let isLast = length == left
            let type: LogFormat.FragmentType
            switch (isFirst, isLast) {
            case (true, true): type = .full
            case (true, false): type = .first
            case (false, true): type = .last
            case (false, false): type = .middle
            }
            let fragment = UnsafeRawBufferPointer(start: payload.baseAddress.map { $0 + offset }, count: length)
            try emit(type, fragment)
            offset += length
            left -= length
            isFirst = false
        } while left > 0
    }

    @inline(__always)
    private func emit(_ type: LogFormat.FragmentType, _ fragment: UnsafeRawBufferPointer) throws {
        let crc = CRC32C.extend(LogFormat.typeCRC[Int(type.rawValue)], fragment)
        storeFixed32(header, CRC32C.mask(crc))
        header.storeBytes(of: UInt8(truncatingIfNeeded: fragment.count), toByteOffset: 4, as: UInt8.self)
        header.storeBytes(of: UInt8(truncatingIfNeeded: fragment.count >> 8), toByteOffset: 5, as: UInt8.self)
        header.storeBytes(of: type.rawValue, toByteOffset: 6, as: UInt8.self)
        try file.append(UnsafeRawBufferPointer(start: header, count: LogFormat.headerSize))
        if fragment.count > 0 { try file.append(fragment) }
        blockOffset += LogFormat.headerSize + fragment.count
    }

    /// Writes zeros ahead of the data up to `end` (see `WritableFile.preallocate`).
    func preallocate(upTo end: UInt64) throws { try file.preallocate(upTo: end) }

    /// Hands buffered bytes to the operating system.
    func flush() throws { try file.flush() }

    /// Makes everything appended so far durable.
    func sync() throws { try file.sync() }

    func close() throws { try file.close() }
}
