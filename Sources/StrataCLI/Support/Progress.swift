import ArgumentParser
import Foundation
import StrataBench
import StrataMessageCore
import Synchronization

/// Progress of a long operation on stderr: on a terminal a bar redrawn in
/// place with the rate and the time left; otherwise (a log, a pipe) a plain
/// line every few seconds; nothing with `--quiet`. stdout stays for results.
///
/// console-kit's `ProgressBar` was considered and not used: it writes to
/// stdout (results and `--to -` go there), has no rate or ETA, and brings
/// swift-nio into the CLI's build (see Docs/architecture.md, "CLI").
final class ProgressReporter: Sendable {
    /// How output is shaped.
    enum Style { case bar, lines, silent }

    private struct State {
        var lastDraw: ContinuousClock.Instant?
        var drawn = false
        var done: UInt64 = 0
        var total: UInt64?
    }

    private let title: String
    private let unit: String
    private let style: Style
    private let started = ContinuousClock.now
    private let state = StoreLock(State())

    /// A reporter for `title` counting `unit`s (`bytes` are shown as sizes).
    init(_ title: String, unit: String, quiet: Bool) {
        self.title = title
        self.unit = unit
        self.style = quiet ? .silent : (isatty(STDERR_FILENO) == 1 ? .bar : .lines)
    }

    /// Records that `done` of `total` (nil = unknown) units are done;
    /// redraws at most ten times a second (a line every 5 s off a terminal).
    func update(_ done: UInt64, of total: UInt64?) {
        state.withLock { s in
            s.done = done
            s.total = total
            let now = ContinuousClock.now
            let interval: Duration = style == .bar ? .milliseconds(100) : .seconds(5)
            if let last = s.lastDraw, now - last < interval { return }
            if s.lastDraw == nil && style == .lines && now - started < .seconds(1) { return }
            s.lastDraw = now
            draw(&s, final: false)
        }
    }

    /// Draws the final state and ends the bar's line.
    func finish() {
        state.withLock { s in
            if style == .bar && s.drawn { draw(&s, final: true) }
        }
    }

    /// Erases the bar (a result line takes its place); nothing off a terminal.
    func clear() {
        state.withLock { s in
            if style == .bar && s.drawn {
                FileHandle.standardError.write(Data("\r\u{1B}[2K".utf8))
                s.drawn = false
            }
        }
    }

    private func seconds(_ d: Duration) -> Double {
        let (s, a) = d.components
        return Double(s) + Double(a) / 1e18
    }

    private func amount(_ n: UInt64) -> String { unit == "bytes" ? humanBytes(n) : "\(n)" }

    private func clock(_ s: Double) -> String {
        guard s.isFinite, s >= 0 else { return "--:--" }
        let t = Int(s.rounded())
        return t >= 3600 ? String(format: "%d:%02d:%02d", t / 3600, t / 60 % 60, t % 60) : String(format: "%d:%02d", t / 60, t % 60)
    }

    /// Called inside `state`'s lock.
    private func draw(_ s: inout State, final: Bool) {
        guard style != .silent else { return }
        let (done, total) = (s.done, s.total)
        let elapsed = seconds(ContinuousClock.now - started)
        let rate = elapsed > 0 ? Double(done) / elapsed : 0
        let rateText = unit == "bytes" ? "\(humanBytes(UInt64(rate)))/s" : String(format: "%.0f %@/s", rate, unit)
        var text: String
        if let total, total > 0 {
            let fraction = min(1, Double(done) / Double(total))
            let eta = rate > 0 ? Double(total - min(done, total)) / rate : .infinity
            if style == .bar {
                let width = 24, filled = Int(fraction * Double(width))
                let bar = String(repeating: "=", count: filled) + String(repeating: " ", count: width - filled)
                text = String(format: "%@ [%@] %3.0f%% %@ of %@, %@, ETA %@", title, bar, fraction * 100, amount(done), amount(total), rateText, clock(eta))
            } else {
                text = String(format: "%@: %.0f%% (%@ of %@), %@, ETA %@", title, fraction * 100, amount(done), amount(total), rateText, clock(eta))
            }
        } else if unit.isEmpty {
            text = "\(title): \(clock(elapsed)) elapsed"
        } else {
            text = "\(title): \(amount(done)) \(unit == "bytes" ? "" : unit + " ")done, \(rateText), \(clock(elapsed)) elapsed"
        }
        if style == .bar {
            // \r and erase-line redraw in place; the final draw ends the line.
            FileHandle.standardError.write(Data("\r\u{1B}[2K\(text)\(final ? "\n" : "")".utf8))
            s.drawn = !final
        } else {
            FileHandle.standardError.write(Data("\(text)\n".utf8))
        }
    }
}

/// Runs blocking `body` on its own thread, reporting elapsed time through
/// `progress` until it returns (for engine calls that take no callback).
func withElapsedProgress<T: Sendable>(_ progress: ProgressReporter, _ body: @escaping @Sendable () throws -> T) throws -> T {
    let result = StoreLock<Result<T, any Error>?>(nil)
    let finished = DispatchSemaphore(value: 0)
    Thread {
        let r = Result { try body() }
        result.withLock { $0 = r }
        finished.signal()
    }.start()
    while finished.wait(timeout: .now() + .milliseconds(200)) == .timedOut {
        progress.update(0, of: nil)
    }
    progress.finish()
    return try result.withLock { $0 }!.get()
}

/// `--quiet` of every command that shows progress.
struct ProgressOptions: ParsableArguments {
    @Flag(name: .shortAndLong, help: "Show no progress on stderr.") var quiet = false

    func reporter(_ title: String, unit: String) -> ProgressReporter { ProgressReporter(title, unit: unit, quiet: quiet) }
}

/// `strata bench`'s progress: one reporter per benchmark, fed by the
/// workers' batched counts; the bar is erased before the result line.
final class BenchProgressDisplay: BenchProgress {
    private let unit: String
    private let quiet: Bool
    private let done = Atomic<Int>(0)
    private let current = StoreLock<(reporter: ProgressReporter, total: UInt64?)?>(nil)

    init(unit: String, quiet: Bool) {
        self.unit = unit
        self.quiet = quiet
    }

    func begin(_ benchmark: String, total: Int?) {
        done.store(0, ordering: .relaxed)
        let reporter = ProgressReporter(benchmark, unit: unit, quiet: quiet)
        current.withLock { $0 = (reporter, total.map { UInt64(max(0, $0)) }) }
    }

    func advance(by n: Int) {
        let d = done.add(n, ordering: .relaxed).newValue
        current.withLock { c in
            if let c { c.reporter.update(UInt64(max(0, d)), of: c.total) }
        }
    }

    func end() {
        current.withLock { c in
            c?.reporter.clear()
            c = nil
        }
    }
}
