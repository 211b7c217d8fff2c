import Foundation

/// Where the `strata` executable is: next to the test bundle in the build
/// folder (`swift build` builds it with the tests), or `$STRATA_EXECUTABLE`.
public enum StrataExecutable {
    public static let path: String? = {
        if let p = ProcessInfo.processInfo.environment["STRATA_EXECUTABLE"], FileManager.default.isExecutableFile(atPath: p) { return p }
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        // The bundle may be a folder (…/debug/StrataPackageTests.xctest/…) or a file in …/debug.
        for _ in 0..<4 {
            let candidate = dir.appendingPathComponent("strata").path
            if FileManager.default.isExecutableFile(atPath: candidate) && !FileManager.default.fileExists(atPath: candidate + "/.") {
                return candidate
            }
            dir = dir.deletingLastPathComponent()
        }
        return nil
    }()
}
