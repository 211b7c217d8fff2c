
/// Runs blocking `body` (a process start and wait, `initdb`, `pg_ctl`) on a
/// thread of `DedicatedThreads` (not dispatch's: on Linux those are the
/// cooperative pool's too) and suspends until it returns, so an async test does
/// not hold one of the cooperative pool's threads (two on a 2-core
/// machine) while it waits; a held pool thread stalls every other test
/// of the process (Docs/reliability.md, "Tests side by side").
public func offCooperativePool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DedicatedThreads.shared.run { continuation.resume(with: Result { try body() }) }
    }
}
