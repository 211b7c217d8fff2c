import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Free space of a file system, by `statvfs`.
package enum DiskSpace {
    /// Bytes available to unprivileged users on the file system holding
    /// `path` (or its nearest existing ancestor), nil if it cannot be read.
    package static func freeBytes(at path: String) -> Int64? {
        var p = path.isEmpty ? "." : path
        while !FileManager.default.fileExists(atPath: p) {
            let parent = (p as NSString).deletingLastPathComponent
            if parent == p || parent.isEmpty { p = "."; break }
            p = parent
        }
        var s = statvfs()
        guard statvfs(p, &s) == 0 else { return nil }
        return Int64(s.f_bavail) * Int64(s.f_frsize)
    }

    /// Bytes of the regular files under `path` (or the file itself); 0 if
    /// it does not exist.
    package static func size(of path: String) -> Int64 {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: path, isDirectory: &isDir) else { return 0 }
        if !isDir.boolValue { return ((try? fm.attributesOfItem(atPath: path)[.size]) as? NSNumber)?.int64Value ?? 0 }
        var total: Int64 = 0
        for relative in (try? fm.subpathsOfDirectory(atPath: path)) ?? [] {
            let attrs = try? fm.attributesOfItem(atPath: path + "/" + relative)
            if attrs?[.type] as? FileAttributeType == .typeRegular { total += (attrs?[.size] as? NSNumber)?.int64Value ?? 0 }
        }
        return total
    }
}
