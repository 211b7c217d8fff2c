/// File copying helpers shared by checkpoints and backups.
enum FileCopy {
    static func parentDirectory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    /// Hard-links `from` to `to`, copying (and syncing) when linking fails
    /// (another file system).
    static func linkOrCopy(_ from: String, to: String, fs: any FileSystem) throws {
        do {
            try fs.hardLink(from, to: to)
        } catch {
            try copy(from, to: to, fs: fs)
        }
    }

    /// Copies `from` to `to` (at most `limit` bytes), fsyncs the copy, and
    /// returns the CRC32C of what was copied.
    @discardableResult
    static func copy(_ from: String, to: String, limit: UInt64 = .max, fs: any FileSystem,
                     destination: (any FileSystem)? = nil, progress: ((Int) -> Void)? = nil) throws -> UInt32 {
        let dfs = destination ?? fs
        let src = try fs.openForReading(at: from)
        defer { src.close() }
        let dst = try dfs.createFile(at: to)
        var crc: UInt32 = 0
        do {
            let total = min(src.size, limit)
            var offset: UInt64 = 0
            var buffer = [UInt8](repeating: 0, count: 1 << 20)
            while offset < total {
                let want = Int(min(UInt64(buffer.count), total - offset))
                let n = try buffer.withUnsafeMutableBytes { try src.read(at: offset, into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<want])) }
                if n == 0 { throw StrataError(.ioError, "\(from): file ended at \(offset) while copying \(total) bytes") }
                try buffer.withUnsafeBytes { p in
                    let chunk = UnsafeRawBufferPointer(rebasing: p[0..<n])
                    crc = CRC32C.extend(crc, chunk)
                    try dst.append(chunk)
                }
                offset += UInt64(n)
                progress?(n)
            }
            try dst.sync()
            try dst.close()
        } catch {
            try? dst.close()
            try? dfs.removeFile(at: to)
            throw error
        }
        return crc
    }

    /// CRC32C of a whole file.
    static func checksum(_ path: String, fs: any FileSystem) throws -> (crc: UInt32, size: UInt64) {
        let src = try fs.openForReading(at: path)
        defer { src.close() }
        var crc: UInt32 = 0
        var offset: UInt64 = 0
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while offset < src.size {
            let n = try buffer.withUnsafeMutableBytes { try src.read(at: offset, into: $0) }
            if n == 0 { break }
            buffer.withUnsafeBytes { crc = CRC32C.extend(crc, UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            offset += UInt64(n)
        }
        return (crc, offset)
    }

    /// Removes a directory and everything below it; no error if missing.
    static func removeTree(_ path: String, fs: any FileSystem) throws {
        guard fs.fileExists(at: path) else { return }
        guard fs.isDirectory(at: path) else {
            try fs.removeFile(at: path)
            return
        }
        for name in try fs.listDirectory(at: path) {
            try removeTree(DBPaths.join(path, name), fs: fs)
        }
        try fs.removeDirectory(at: path)
    }
}
