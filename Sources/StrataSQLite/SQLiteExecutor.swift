import CSQLite
import Dispatch
#if canImport(Glibc)
import Glibc
#endif
import StrataMessageCore

/// Where an SQLite store's statements run: one serial dispatch queue per
/// connection. SQLite calls block their thread on disk (and, when another
/// process holds the write lock, for up to `busyTimeoutMilliseconds`), so
/// they must not run on Swift's cooperative pool: callers suspend on a
/// continuation while the job runs on the queue, and jobs run one at a time
/// in submission order, which is the serialisation the connection needs.
///
/// Cancellation: a job always runs once submitted (a cancelled consumer
/// still settles its messages), but its wait for another process's lock
/// ends as soon as its task is cancelled — the busy handler gives up and the
/// job throws `CancellationError` (its transaction rolled back).
///
/// `@unchecked Sendable`: `connection` and `current` are only touched on
/// `queue`; a job's cancellation flag is behind its own lock.
final class SQLiteExecutor: @unchecked Sendable {
    /// How long a statement waits for another connection's lock before
    /// failing with `SQLITE_BUSY` (`.unavailable`), unless changed.
    static let busyTimeoutMilliseconds = 5000

    private let queue: DispatchQueue
    private var connection: SQLiteConnection?
    /// The job running on `queue` now (read by the busy handler).
    private var current: Job?
    /// The busy timeout in force (touched only on `queue`).
    private var busyTimeout = SQLiteExecutor.busyTimeoutMilliseconds
    private let closedMessage: String

    /// One submitted job's cancellation state.
    final class Job: Sendable {
        private let cancelled = StoreLock(false)
        var isCancelled: Bool { cancelled.withLock { $0 } }
        func cancel() { cancelled.withLock { $0 = true } }
    }

    /// Takes over `connection`; `closedMessage` is the `.closed` error's text
    /// once it is closed.
    init(_ connection: SQLiteConnection, label: String, closedMessage: String) {
        queue = DispatchQueue(label: label)
        self.closedMessage = closedMessage
        self.connection = connection
        installBusyHandler(connection)
    }

    deinit {
        // Closed here, while the busy handler's context (self) is alive.
        connection?.close()
    }

    /// Sets how long later statements wait for another connection's lock.
    func setBusyTimeout(milliseconds: Int) async throws {
        try await replacing { [self] _ in busyTimeout = max(0, milliseconds) }
    }

    /// Runs `body` with the connection on the queue; the caller suspends.
    func run<T: Sendable>(_ body: @escaping @Sendable (SQLiteConnection) throws -> T) async throws -> T {
        try await replacing { [self] slot in
            guard let c = slot else { throw MessageStoreError(.closed, closedMessage) }
            return try body(c)
        }
    }

    /// Runs `body` on the queue with the connection slot itself: it may
    /// close the connection (nil) or install another one (restore, close).
    func replacing<T: Sendable>(_ body: @escaping @Sendable (inout SQLiteConnection?) throws -> T) async throws -> T {
        let job = Job()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (k: CheckedContinuation<T, any Error>) in
                queue.async { [self] in
                    k.resume(with: Result<T, any Error> { try execute(job, body) })
                }
            }
        } onCancel: {
            job.cancel()
        }
    }

    /// On the queue: runs `body` as `job`.
    private func execute<T>(_ job: Job, _ body: (inout SQLiteConnection?) throws -> T) throws -> T {
        current = job
        defer { current = nil }
        let before = connection.map { ObjectIdentifier($0) }
        defer {
            if let c = connection, ObjectIdentifier(c) != before { installBusyHandler(c) }
        }
        do {
            return try body(&connection)
        } catch let e as MessageStoreError where job.isCancelled && (e.underlying as? SQLiteResultError)?.isBusy == true {
            // The busy handler gave up because the task was cancelled.
            throw CancellationError()
        }
    }

    /// Replaces `sqlite3_busy_timeout` with a handler that sleeps in short
    /// steps and stops waiting when the running job is cancelled.
    private func installBusyHandler(_ c: SQLiteConnection) {
        sqlite3_busy_handler(c.handle, { context, attempts in
            guard let context else { return 0 }
            let executor = Unmanaged<SQLiteExecutor>.fromOpaque(context).takeUnretainedValue()
            return executor.keepWaiting(afterAttempts: Int(attempts)) ? 1 : 0
        }, Unmanaged.passUnretained(self).toOpaque())
    }

    /// Called by SQLite on the queue while a lock is held elsewhere: sleeps
    /// 1, 2, … 10 ms (then 10 ms steps) and returns whether to try again.
    private func keepWaiting(afterAttempts n: Int) -> Bool {
        if current?.isCancelled ?? false { return false }
        let waited = n < 10 ? n * (n + 1) / 2 : 45 + (n - 9) * 10
        if waited >= busyTimeout { return false }
        usleep(useconds_t(min(n + 1, 10) * 1000))
        return !(current?.isCancelled ?? false)
    }
}

extension SQLiteResultError {
    /// Whether the statement failed because another connection held a lock.
    var isBusy: Bool { code & 0xFF == SQLITE_BUSY }
}
