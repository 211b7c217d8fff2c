import Foundation
@testable import Strata

/// A fresh directory under the system temp folder, removed by `cleanup()`.
struct TempDir {
    let path: String

    init(_ name: String = "db") {
        path = NSTemporaryDirectory() + "strata-\(name)-\(UUID().uuidString)"
    }

    func cleanup() {
        try? FileManager.default.removeItem(atPath: path)
    }

    func file(_ name: String) -> String { path + "/" + name }
}

/// A deterministic generator for randomized tests (SplitMix64), so a failing
/// seed can be replayed.
struct SeededRandom: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

func utf8(_ s: String) -> [UInt8] { Array(s.utf8) }
