import Dispatch

/// Runs blocking work (file copies, fsyncs, checksums) on a dispatch thread
/// and suspends until it is done, so it never holds a thread of the
/// cooperative pool.
package func offload<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(with: Result { try body() }) }
    }
}
