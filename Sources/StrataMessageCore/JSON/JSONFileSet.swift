import CStrataSupport
import Foundation
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// The JSON backend's files under one directory, written as one atomic
/// change: every new file goes to `<name>.new` (fsynced), then a
/// `commit.json` listing the change is written (temp, fsync, rename,
/// directory fsync), then each file is rotated (`name.1` … `name.N`, the
/// newest first) and `name.new` renamed over `name`; `commit.json` is
/// removed last. Opening finishes a change whose `commit.json` exists and
/// discards `.new` files of one that has none. Every file carries a CRC32C
/// of its content; a file that fails it is read from its newest good
/// rotation instead, with a warning in the log. Not thread-safe: the store
/// runs every use on its one save queue.
struct JSONFileSet {
    let directory: String
    let backupCount: Int
    let logger: Logger
    /// The system calls (a test's faults replace some).
    var calls: JSONFileCalls = .system

    /// What one save does: file contents by relative path, and removals;
    /// the store's dirty marks it came from (restored if it fails).
    struct Change {
        var queues: Set<String> = []
        var entities = false
        var state = false
        var writes: [String: [UInt8]] = [:]
        var removals: Set<String> = []
        var isEmpty: Bool { writes.isEmpty && removals.isEmpty }
    }

    private struct Manifest: Codable {
        var writes: [String]
        var removals: [String]
    }

    static let prefix = Array(#"{"format":"strata-json-1","crc32c":""#.utf8)

    /// `content` wrapped with its checksum: `{"format":…,"crc32c":"xxxxxxxx","content":` content `}`.
    static func envelope(_ content: [UInt8]) -> [UInt8] {
        let crc = strata_crc32c_extend(0, content, content.count)
        let hex = String(crc, radix: 16)
        return prefix + Array((String(repeating: "0", count: 8 - hex.count) + hex + #"","content":"#).utf8) + content + Array("}\n".utf8)
    }

    /// The content of an enveloped file; nil when the checksum or shape is wrong.
    static func content(of bytes: [UInt8]) -> [UInt8]? {
        let head = prefix.count + 8 + #"","content":"#.utf8.count
        guard bytes.count >= head + 2, Array(bytes[..<prefix.count]) == prefix,
              let hex = String(validating: bytes[prefix.count..<(prefix.count + 8)], as: UTF8.self),
              let crc = UInt32(hex, radix: 16), Array(bytes[(prefix.count + 8)..<head]) == Array(#"","content":"#.utf8),
              Array(bytes.suffix(2)) == Array("}\n".utf8) else { return nil }
        let content = Array(bytes[head..<(bytes.count - 2)])
        return strata_crc32c_extend(0, content, content.count) == crc ? content : nil
    }

    private func full(_ rel: String) -> String { directory + "/" + rel }

    /// The error of the call that just failed (`errno` read at once).
    private func failed(_ what: String, _ path: String) -> MessageStoreError {
        JSONFileCalls.failure(what, path, errno: errno)
    }

    private func writeSynced(_ bytes: [UInt8], to path: String) throws {
        let fd = calls.open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw failed("cannot create", path) }
        defer { Glibc.close(fd) }
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { calls.write(fd, $0.baseAddress! + done, bytes.count - done) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw n == 0 ? JSONFileCalls.failure("cannot write", path, errno: EIO) : failed("cannot write", path) }
            done += n
        }
        guard calls.fsync(fd) == 0 else { throw failed("cannot fsync", path) }
    }

    private func syncDirectory(_ path: String) throws {
        let fd = calls.open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0)
        guard fd >= 0 else { throw failed("cannot open directory", path) }
        defer { Glibc.close(fd) }
        guard calls.fsync(fd) == 0 else { throw failed("cannot fsync directory", path) }
    }

    /// The bytes of `path`; nil when it does not exist. Any other failure
    /// is an error, never an empty or missing file.
    private func readFile(_ path: String) throws -> [UInt8]? {
        let fd = calls.open(path, O_RDONLY | O_CLOEXEC, 0)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw failed("cannot open", path)
        }
        defer { Glibc.close(fd) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let n = chunk.withUnsafeMutableBytes { calls.read(fd, $0.baseAddress!, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw failed("cannot read", path) }
            if n == 0 { return out }
            out.append(contentsOf: chunk[..<n])
        }
    }

    /// Creates `path` and its missing parents. A parent that is not a
    /// directory is a bad path (`.invalidArgument`).
    private static func makeDirectories(_ path: String) throws {
        var built = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/", omittingEmptySubsequences: true) {
            built += "/" + part
            if mkdir(built, 0o755) == 0 { continue }
            let code = errno
            var st = stat()
            if code == EEXIST, stat(built, &st) == 0 {
                if (st.st_mode & S_IFMT) == S_IFDIR { continue }
                throw MessageStoreError(.invalidArgument, "cannot create \(path): \(built) is not a directory")
            }
            if code == ENOTDIR { throw MessageStoreError(.invalidArgument, "cannot create \(path): a parent is not a directory") }
            throw JSONFileCalls.failure("cannot create directory", built, errno: code)
        }
    }

    private var subdirectories: [String] { ["", "/entities", "/messages"].map { directory + $0 } }

    /// Creates the directories and finishes or discards an interrupted change.
    func prepare() throws {
        for d in subdirectories { try Self.makeDirectories(d) }
        if let bytes = try readFile(full("commit.json")) {
            if let m = try? JSONDecoder().decode(Manifest.self, from: Data(bytes)) {
                logger.notice("json store: finishing an interrupted save", metadata: ["directory": "\(directory)", "files": "\(m.writes.count + m.removals.count)"])
                try install(m)
            } else {
                // A torn manifest never committed: its .new files are discarded below.
                unlink(full("commit.json"))
            }
        }
        for d in subdirectories {
            for name in (try? FileManager.default.contentsOfDirectory(atPath: d)) ?? [] where name.hasSuffix(".new") || name.hasSuffix(".tmp") {
                unlink(d + "/" + name)
            }
        }
    }

    /// A save that failed: `committed` when it failed after its
    /// `commit.json` was in place (then `prepare()` finishes it).
    struct CommitFailure: Error {
        var error: MessageStoreError
        var committed: Bool
    }

    /// Writes `change` atomically (see the type's comment); throws
    /// `CommitFailure`.
    func commit(_ change: Change) throws {
        guard !change.isEmpty else { return }
        let manifest = Manifest(writes: change.writes.keys.sorted(), removals: change.removals.sorted())
        do {
            for (rel, content) in change.writes { try writeSynced(Self.envelope(content), to: full(rel) + ".new") }
            let tmp = full("commit.json.tmp")
            try writeSynced(Array(try JSONEncoder().encode(manifest)), to: tmp)
            guard calls.rename(tmp, full("commit.json")) == 0 else { throw failed("cannot rename", tmp) }
        } catch let e as MessageStoreError {
            throw CommitFailure(error: e, committed: false)
        }
        do {
            try syncDirectory(directory)
            try install(manifest)
        } catch let e as MessageStoreError {
            throw CommitFailure(error: e, committed: true)
        }
    }

    /// Rotates and renames each written file, removes the removed ones
    /// (rotations first, so a crash never leaves an old copy to recover),
    /// then drops the manifest. Idempotent: opening repeats it after a crash.
    private func install(_ m: Manifest) throws {
        for rel in m.writes {
            let path = full(rel)
            guard access(path + ".new", F_OK) == 0 else { continue }  // installed before the crash
            if backupCount > 0, access(path, F_OK) == 0 {
                unlink(path + ".\(backupCount)")
                for k in stride(from: backupCount - 1, through: 1, by: -1) { _ = calls.rename(path + ".\(k)", path + ".\(k + 1)") }
                guard calls.link(path, path + ".1") == 0 else { throw failed("cannot keep a copy of", path) }
            }
            guard calls.rename(path + ".new", path) == 0 else { throw failed("cannot install", path) }
        }
        for rel in m.removals {
            let path = full(rel)
            for k in stride(from: max(backupCount, 100), through: 1, by: -1) { unlink(path + ".\(k)") }
            unlink(path)
        }
        for d in subdirectories { try syncDirectory(d) }
        unlink(full("commit.json"))
        try syncDirectory(directory)
    }

    /// The content of `rel`, from its newest good copy; nil when there is no
    /// copy at all; `.corruption` when every copy fails its checksum.
    func read(_ rel: String) throws -> [UInt8]? {
        let path = full(rel)
        var seen = false
        for k in 0...max(backupCount, 0) {
            let p = k == 0 ? path : path + ".\(k)"
            guard let data = try readFile(p) else { continue }
            seen = true
            if let content = Self.content(of: data) {
                if k > 0 {
                    logger.warning("json store: \(rel) failed its checksum or was missing; recovered from rotation \(k)",
                                   metadata: ["file": "\(p)"])
                }
                return content
            }
            logger.warning("json store: \(p) fails its checksum", metadata: ["directory": "\(directory)"])
        }
        if seen { throw MessageStoreError(.corruption, "\(path): every copy fails its checksum") }
        return nil
    }

    /// The relative paths of the message files present (main or rotations).
    func messageFiles() throws -> [String] {
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: directory + "/messages") } catch {
            throw MessageStoreError(.ioError, "cannot list \(directory)/messages: \(error)", underlying: error)
        }
        var bases = Set<String>()
        for n in names {
            if n.hasSuffix(".json") { bases.insert(n) } else if let r = n.range(of: ".json.", options: .backwards),
                                                              Int(n[r.upperBound...]) != nil {
                bases.insert(String(n[..<r.lowerBound]) + ".json")
            }
        }
        return bases.sorted().map { "messages/" + $0 }
    }

    /// The file a queue's messages live in: a readable prefix of its name and
    /// a hash of all of it (names may hold any character and be long).
    static func fileName(ofQueue queue: String) -> String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in queue.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        let readable = String(queue.unicodeScalars.prefix(80).map { s -> Character in
            s.isASCII && (CharacterSet.alphanumerics.contains(s) || s == "-" || s == ".") ? Character(s) : "_"
        })
        let hex = String(h, radix: 16)
        return "messages/queue_\(readable)_\(String(repeating: "0", count: 16 - hex.count) + hex).json"
    }
}
