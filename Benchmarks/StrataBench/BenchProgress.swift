/// Where a benchmark run reports how far it is (the `strata` command draws
/// it: a bar on a terminal, periodic lines otherwise, nothing with --quiet).
/// `advance` is called from the worker threads every `BenchProgressBatch`
/// operations, so it must be cheap and thread-safe.
public protocol BenchProgress: Sendable {
    /// A benchmark begins; `total` operations are expected (nil: unknown).
    func begin(_ benchmark: String, total: Int?)
    /// `n` more operations are done.
    func advance(by n: Int)
    /// The benchmark ended (before its result line is printed).
    func end()
}

/// Operations a worker counts before it reports them (one call per batch
/// keeps the hot loop free of shared writes).
let benchProgressBatch = 256
