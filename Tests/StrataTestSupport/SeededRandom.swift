import Foundation

/// The one deterministic generator of the test suites (SplitMix64): the
/// same seed gives the same sequence on every machine, so a failing seed
/// replays exactly.
public struct SeededRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64

    /// A generator starting from `seed`.
    public init(seed: UInt64) { state = seed }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A number in `0 ..< n` (`n` > 0).
    public mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }

    /// `count` random bytes.
    public mutating func bytes(_ count: Int) -> [UInt8] {
        (0..<count).map { _ in UInt8(truncatingIfNeeded: next()) }
    }
}

/// Seeds for random tests: every test that draws random numbers gets its
/// seed here, which prints it, so any run can be repeated.
///
/// `STRATA_TEST_SEED=<n>` in the environment replaces every seed (to rerun
/// one failing case: `STRATA_TEST_SEED=<n> swift test --filter <Test>`);
/// otherwise the test's fixed default is used, or, with `fresh`, a new
/// seed from the clock each run.
public enum TestSeed {
    /// The seed `label` runs with (printed as `seed <label>: <n>`).
    public static func resolve(_ label: String, default fixed: UInt64) -> UInt64 {
        let seed = override ?? fixed
        print("seed \(label): \(seed) (rerun with STRATA_TEST_SEED=\(seed))")
        return seed
    }

    /// A new seed from the clock each run (unless `STRATA_TEST_SEED` is
    /// set), printed like `resolve`'s.
    public static func fresh(_ label: String) -> UInt64 {
        resolve(label, default: UInt64(UInt64(Date().timeIntervalSince1970 * 1000) & 0xFFFF_FFFF))
    }

    /// The `STRATA_TEST_SEED` override, if set and a number.
    public static var override: UInt64? {
        ProcessInfo.processInfo.environment["STRATA_TEST_SEED"].flatMap { UInt64($0) }
    }
}
