import Foundation

/// A fresh directory under the system temp folder, removed by `cleanup()`.
public struct TempDir: Sendable {
    /// The directory (not created until something creates it).
    public let path: String

    /// A new unique path whose name includes `name`.
    public init(_ name: String = "db") {
        path = NSTemporaryDirectory() + "strata-\(name)-\(UUID().uuidString)"
    }

    /// Removes the directory and everything in it.
    public func cleanup() {
        try? FileManager.default.removeItem(atPath: path)
    }

    /// The path of `name` inside the directory.
    public func file(_ name: String) -> String { path + "/" + name }
}

/// The UTF-8 bytes of `s`.
public func utf8(_ s: String) -> [UInt8] { Array(s.utf8) }
