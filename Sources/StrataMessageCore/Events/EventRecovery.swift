import Dispatch

/// What `EventStore.recover(stream:batchSize:restore:apply:)` did.
public struct EventRecovery: Sendable, Equatable {
    /// The snapshot the state started from, nil if none.
    public var snapshotLSN: Int64?
    /// Events replayed after the snapshot.
    public var eventsReplayed: Int
    /// The LSN of the last event applied (the snapshot's if none followed, 0 if neither).
    public var lastLSN: Int64
    /// Wall time of the whole recovery.
    public var duration: Duration
}

extension EventStore {
    /// Rebuilds a stream's state: hands the latest snapshot (if any) to
    /// `restore`, then the events after it to `apply` in batches of
    /// `batchSize`, in LSN order, and reports the time taken (also recorded
    /// as the store's `lastRecoveryTime`). The state lives in the caller's
    /// closures; an error from either ends the recovery and is rethrown.
    public func recover(stream: String, batchSize: Int = 4096,
                        restore: (EventSnapshot) async throws -> Void,
                        apply: ([Event]) async throws -> Void) async throws -> EventRecovery {
        guard batchSize > 0 else { throw MessageStoreError(.invalidArgument, "recovery batch size must be positive") }
        let clock = ContinuousClock()
        let start = clock.now
        var last: Int64 = 0
        let snapshot = try await latestSnapshot(stream: stream)
        if let snapshot {
            try await restore(snapshot)
            last = snapshot.uptoLSN
        }
        var replayed = 0
        while true {
            try Task.checkCancellation()
            let batch = try await load(stream: stream, after: last, limit: batchSize)
            guard let tail = batch.last else { break }
            try await apply(batch)
            replayed += batch.count
            last = tail.lsn
            if batch.count < batchSize { break }
        }
        let duration = clock.now - start
        recorder.recovered(in: duration)
        return EventRecovery(snapshotLSN: snapshot?.uptoLSN, eventsReplayed: replayed, lastLSN: last, duration: duration)
    }
}
