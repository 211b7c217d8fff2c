import Synchronization

/// A consistent, read-only view of the database as of one sequence number.
/// Reads and iterators given a snapshot see exactly the writes committed
/// before it was taken. Released when the last reference goes away.
public final class Snapshot: Sendable {
    /// The sequence number this snapshot reads at.
    public let sequence: SequenceNumber
    let registry: SnapshotRegistry?

    init(sequence: SequenceNumber, registry: SnapshotRegistry?) {
        self.sequence = sequence
        self.registry = registry
    }

    deinit { registry?.release(sequence) }
}

/// The sequence numbers of live snapshots, so compaction knows which old
/// versions a reader may still need. A multiset: two snapshots can share a
/// sequence number.
final class SnapshotRegistry: Sendable {
    private let live = Locked<[SequenceNumber: Int]>([:])

    func acquire(_ seq: SequenceNumber) -> Snapshot {
        live.withLock { $0[seq, default: 0] += 1 }
        return Snapshot(sequence: seq, registry: self)
    }

    /// A snapshot at the sequence `load` returns, read inside the registry's
    /// lock: a compaction that listed the snapshots before this one joined
    /// only saw entries at or below that sequence, so it cannot have
    /// dropped anything this snapshot needs.
    func acquireLatest(_ load: () -> SequenceNumber) -> Snapshot {
        let seq = live.withLock { m in
            let s = load()
            m[s, default: 0] += 1
            return s
        }
        return Snapshot(sequence: seq, registry: self)
    }

    func release(_ seq: SequenceNumber) {
        live.withLock { m in
            if let n = m[seq] {
                if n <= 1 { m[seq] = nil } else { m[seq] = n - 1 }
            }
        }
    }

    /// Sorted ascending.
    var sequences: [SequenceNumber] { live.withLock { $0.keys.sorted() } }
    var oldest: SequenceNumber? { live.withLock { $0.keys.min() } }
    var count: Int { live.withLock { $0.values.reduce(0, +) } }
}
