/// The argument checks and errors every event store backend shares, so
/// the contract suite sees one behaviour.
package enum EventRules {
    /// Longest stream name (bytes): the LSM store keys a stream with a 2-byte length.
    package static let maxStreamBytes = 60_000

    /// Rejects an empty batch, empty or too long stream names, empty
    /// idempotency keys and a key twice in one batch.
    package static func validate(_ events: [Event]) throws {
        guard !events.isEmpty else { throw MessageStoreError(.invalidArgument, "append of no events") }
        var seen = Set<String>()
        for e in events {
            if e.stream.isEmpty || e.stream.utf8.count > maxStreamBytes {
                throw MessageStoreError(.invalidArgument, "stream name must be 1 to \(maxStreamBytes) bytes")
            }
            if e.idempotencyKey.isEmpty { throw MessageStoreError(.invalidArgument, "idempotency key must not be empty") }
            guard seen.insert(e.idempotencyKey).inserted else {
                throw MessageStoreError(.invalidArgument, "idempotency key \(e.idempotencyKey) twice in one batch")
            }
        }
    }

    /// Rejects a snapshot without a stream or with a negative `uptoLSN`.
    package static func validate(_ s: EventSnapshot) throws {
        guard !s.stream.isEmpty, s.stream.utf8.count <= maxStreamBytes, s.uptoLSN >= 0 else {
            throw MessageStoreError(.invalidArgument, "snapshot needs a stream of 1 to \(maxStreamBytes) bytes and a non-negative uptoLSN")
        }
    }

    /// The `.duplicateKey` error for `key`, stored at `lsn`.
    package static func duplicate(_ key: String, _ lsn: Int64) -> MessageStoreError {
        var e = MessageStoreError(.duplicateKey, "idempotency key \(key) is already stored at LSN \(lsn)")
        e.existingLSN = lsn
        return e
    }

    /// What an append whose known keys map to LSNs returns, or throws under
    /// `.fail`: nil when some events are new (the caller stores those).
    package static func resolveKnown(_ events: [Event], known: [String: Int64], policy: EventStoreOptions.DuplicatePolicy) throws {
        guard policy == .fail else { return }
        for e in events { if let lsn = known[e.idempotencyKey] { throw duplicate(e.idempotencyKey, lsn) } }
    }

    /// The LSN an append returns: that of the batch's last event, a known
    /// key's first LSN if the last event was a known key.
    package static func result(_ events: [Event], known: [String: Int64], assigned: [String: Int64]) -> Int64 {
        let k = events[events.count - 1].idempotencyKey
        return known[k] ?? assigned[k] ?? 0
    }
}

/// The new events of an append, numbered and encoded: what every backend
/// writes, and the figures the recorder counts.
package struct EncodedBatch {
    /// The new events with their LSNs, in batch order.
    package var events: [Event] = []
    /// Their records (`EventCodec`), in the same order.
    package var records: [[UInt8]] = []
    /// Idempotency key → LSN of the new events.
    package var assigned: [String: Int64] = [:]
    /// Raw payload bytes, and payload bytes after compression.
    package var rawBytes = 0, storedBytes = 0

    /// Numbers the events of `input` whose keys are not `known` with
    /// `lsns` (one per new event, increasing) and encodes them.
    package init(_ input: [Event], known: [String: Int64], lsns: some Sequence<Int64>, compression: EventStoreOptions.Compression) {
        var next = lsns.makeIterator()
        for var e in input where known[e.idempotencyKey] == nil {
            guard let lsn = next.next() else { break }
            e.lsn = lsn
            let (record, _, stored) = EventCodec.encode(e, compression: compression)
            events.append(e)
            records.append(record)
            assigned[e.idempotencyKey] = lsn
            rawBytes += e.payload.count
            storedBytes += stored
        }
    }

    /// How many of `input`'s events are new.
    package static func freshCount(_ input: [Event], known: [String: Int64]) -> Int {
        input.reduce(0) { $0 + (known[$1.idempotencyKey] == nil ? 1 : 0) }
    }
}
