import Foundation

/// Where an export goes: a file written under `<path>.partial` and renamed
/// into place by `commit()` (so a failed export leaves nothing at `path`),
/// or stdout for `-`. Buffered in 256 KiB chunks.
final class ExportSink {
    private let path: String
    private let temporary: String?
    private let handle: FileHandle
    private var buffer: [UInt8] = []
    private(set) var bytesWritten: UInt64 = 0

    init(path: String) throws {
        self.path = path
        if path == "-" {
            temporary = nil
            handle = FileHandle.standardOutput
            return
        }
        guard !FileManager.default.fileExists(atPath: path) else {
            throw MessageStoreError(.invalidArgument, "export target \(path) already exists")
        }
        let temp = path + ".partial"
        try? FileManager.default.removeItem(atPath: temp)
        guard FileManager.default.createFile(atPath: temp, contents: nil), let h = FileHandle(forWritingAtPath: temp) else {
            throw MessageStoreError(.invalidArgument, "cannot create \(temp)")
        }
        temporary = temp
        handle = h
        buffer.reserveCapacity(1 << 18)
    }

    func write(_ bytes: [UInt8]) throws {
        buffer += bytes
        bytesWritten += UInt64(bytes.count)
        if buffer.count >= 1 << 18 { try drain() }
    }

    private func drain() throws {
        guard !buffer.isEmpty else { return }
        do {
            try handle.write(contentsOf: buffer)
        } catch {
            throw MessageStoreError(.ioError, "writing \(temporary ?? path): \(error)")
        }
        buffer.removeAll(keepingCapacity: true)
    }

    /// Writes what is buffered, makes the file durable and moves it to `path`.
    func commit() throws {
        try drain()
        guard let temporary else { return }
        do {
            try handle.synchronize()
            try handle.close()
            try FileManager.default.moveItem(atPath: temporary, toPath: path)
        } catch {
            throw MessageStoreError(.ioError, "finishing \(path): \(error)")
        }
    }

    /// Drops the partial file.
    func abandon() {
        guard let temporary else { return }
        try? handle.close()
        try? FileManager.default.removeItem(atPath: temporary)
    }
}
