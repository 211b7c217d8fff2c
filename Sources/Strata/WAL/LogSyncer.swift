import Foundation

/// The background thread behind `.asyncDurable(groupWindow:)`: each such
/// write asks for an fsync no later than its window after the write; the
/// syncer sleeps until the earliest deadline and then fsyncs the live log
/// once for every write that arrived in the meantime.
final class LogSyncer: @unchecked Sendable {
    // `deadline` and `stopping` are guarded by `monitor`.
    private let monitor = Monitor()
    private var deadline: ContinuousClock.Instant?
    private var stopping = false
    private let exited = ThreadParker()
    private let currentLog: @Sendable () -> WALHandle?
    private let onError: @Sendable (StrataError) -> Void

    init(currentLog: @escaping @Sendable () -> WALHandle?, onError: @escaping @Sendable (StrataError) -> Void) {
        self.currentLog = currentLog
        self.onError = onError
    }

    func start() {
        let t = Thread { [self] in run() }
        t.name = "strata-log-sync"
        t.start()
    }

    /// Requests an fsync within `window` from now.
    func schedule(within window: Duration) {
        let when = ContinuousClock.now.advanced(by: window)
        monitor.lock()
        if deadline == nil || when < deadline! {
            deadline = when
            monitor.broadcast()
        }
        monitor.unlock()
    }

    /// Stops the thread and waits for it to exit.
    func stop() {
        monitor.lock()
        stopping = true
        monitor.broadcast()
        monitor.unlock()
        exited.park()
    }

    private func run() {
        monitor.lock()
        while !stopping {
            guard let d = deadline else {
                monitor.wait()
                continue
            }
            let now = ContinuousClock.now
            if now < d {
                let c = (d - now).components
                let ns = UInt64(c.seconds) * 1_000_000_000 + UInt64(c.attoseconds / 1_000_000_000)
                monitor.wait(nanoseconds: max(ns, 1000))
                continue
            }
            deadline = nil
            monitor.unlock()
            do {
                try currentLog()?.syncIfDirty()
            } catch let e as StrataError {
                onError(e)
            } catch {
                onError(StrataError(.ioError, "log sync: \(error)"))
            }
            monitor.lock()
        }
        monitor.unlock()
        exited.unpark()
    }
}
