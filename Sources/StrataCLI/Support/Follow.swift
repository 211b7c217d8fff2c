import ArgumentParser
import Foundation
import Synchronization

/// `--follow [--interval SECONDS] [--count N]`: print again every interval
/// until Ctrl-C (SIGINT ends the loop after the round in progress, and the
/// command closes its store and exits 0) or `--count` rounds.
struct FollowOptions: ParsableArguments {
    @Flag(help: "Print again every --interval seconds, following the store as another process writes it, until Ctrl-C.")
    var follow = false
    @Option(help: ArgumentHelp("With --follow: seconds between rounds (default 2).", valueName: "seconds"))
    var interval: Double?
    @Option(help: ArgumentHelp("With --follow: stop after this many rounds (default: until Ctrl-C).", valueName: "n"))
    var count: Int?

    func validate() throws {
        if let interval, !(interval > 0 && interval <= 86_400) {
            throw ValidationError("--interval must be above 0 and at most 86400 seconds, got \(interval)")
        }
        if let count, count < 1 { throw ValidationError("--count must be at least 1, got \(count)") }
        if !follow && (interval != nil || count != nil) { throw ValidationError("--\(interval != nil ? "interval" : "count") needs --follow") }
    }

    var seconds: Double { interval ?? 2 }

    /// Runs `round` once, or with `--follow` round after round (`round(n)`,
    /// n from 1) with `seconds` between them, until SIGINT or `count`.
    func rounds(_ round: (Int) async throws -> Void) async throws {
        guard follow else { return try await round(1) }
        let stop = InterruptFlag()
        defer { stop.restore() }
        var n = 1
        while true {
            try await round(n)
            fflush(nil)
            if let count, n >= count { return }
            if await stop.sleep(seconds: seconds) { return }
            n += 1
        }
    }

    /// `rounds` for a synchronous command (the engine's `stats`).
    func roundsSync(_ round: (Int) throws -> Void) throws {
        guard follow else { return try round(1) }
        let stop = InterruptFlag()
        defer { stop.restore() }
        var n = 1
        while true {
            try round(n)
            fflush(nil)
            if let count, n >= count { return }
            if stop.sleepSync(seconds: seconds) { return }
            n += 1
        }
    }
}

/// Set by the SIGINT/SIGTERM handler; a lock-free store, safe in a signal handler.
private let interruptedBySignal = Atomic<Bool>(false)

/// Catches SIGINT (Ctrl-C) and SIGTERM while a follow loop runs, so they end
/// the loop between rounds (the store is closed, the exit code is 0)
/// instead of killing the process in the middle of one.
final class InterruptFlag: Sendable {
    init() {
        interruptedBySignal.store(false, ordering: .relaxed)
        for s in [SIGINT, SIGTERM] { signal(s) { _ in interruptedBySignal.store(true, ordering: .relaxed) } }
    }

    var isSet: Bool { interruptedBySignal.load(ordering: .relaxed) }

    /// Sleeps `seconds` in short steps; true when interrupted.
    func sleep(seconds: Double) async -> Bool {
        var left = seconds
        while left > 0 && !isSet {
            let step = min(left, 0.05)
            try? await Task.sleep(for: .milliseconds(max(1, Int(step * 1000))))
            left -= step
        }
        return isSet
    }

    /// `sleep` without suspending (for a synchronous command).
    func sleepSync(seconds: Double) -> Bool {
        var left = seconds
        while left > 0 && !isSet {
            let step = min(left, 0.05)
            usleep(useconds_t(max(1, step * 1_000_000)))
            left -= step
        }
        return isSet
    }

    /// Puts the signals back to their defaults (the next one ends the process).
    func restore() {
        for s in [SIGINT, SIGTERM] { signal(s, SIG_DFL) }
    }
}
