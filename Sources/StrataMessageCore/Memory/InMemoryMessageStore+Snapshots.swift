import Foundation

/// The in-memory store's named snapshots: its backup encoding, held in
/// memory (they live as long as the store, like its messages).
struct InMemorySnapshotShelf: Sendable {
    var options = SnapshotOptions()
    var snapshots: [String: (info: SnapshotInfo, data: Data)] = [:]
    var order: UInt64 = 0
}

extension InMemoryMessageStore {
    /// Retention (`maxSnapshots`); `directory` is not used (snapshots stay in memory).
    public var snapshotOptions: SnapshotOptions {
        get { snapshotShelf.withLock { $0.options } }
        set { snapshotShelf.withLock { $0.options = newValue } }
    }

    @discardableResult
    public func createSnapshot(name: String) async throws -> SnapshotInfo {
        try SnapshotInfo.validate(name: name)
        if snapshotShelf.withLock({ $0.snapshots[name] != nil }) {
            throw MessageStoreError(.alreadyExists, "snapshot \"\(name)\" already exists")
        }
        // The backup encoding is the store's consistent copy (taken under its lock).
        let temp = NSTemporaryDirectory() + "strata-memory-snapshot-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: temp) }
        try await backup(to: temp)
        guard let data = FileManager.default.contents(atPath: temp) else {
            throw MessageStoreError(.invalidArgument, "cannot read the snapshot copy at \(temp)")
        }
        let info = SnapshotInfo(name: name, date: Date(), bytes: Int64(data.count))
        try snapshotShelf.withLock { shelf in
            if shelf.snapshots[name] != nil { throw MessageStoreError(.alreadyExists, "snapshot \"\(name)\" already exists") }
            shelf.snapshots[name] = (info, data)
            let keep = shelf.options.maxSnapshots
            if keep > 0 {
                let oldest = shelf.snapshots.values.map(\.info).sorted { ($0.date, $0.name) < ($1.date, $1.name) }
                for old in oldest.filter({ $0.name != name }).dropLast(keep - 1) { shelf.snapshots[old.name] = nil }
            }
        }
        return info
    }

    public func snapshots() async throws -> [SnapshotInfo] {
        snapshotShelf.withLock { $0.snapshots.values.map(\.info) }.sorted { ($0.date, $0.name) < ($1.date, $1.name) }
    }

    public func restoreSnapshot(name: String) async throws {
        guard let data = snapshotShelf.withLock({ $0.snapshots[name]?.data }) else {
            throw MessageStoreError(.notFound, "no snapshot \"\(name)\"")
        }
        let temp = NSTemporaryDirectory() + "strata-memory-restore-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: temp) }
        try data.write(to: URL(fileURLWithPath: temp))
        try await restore(from: temp)
    }

    public func deleteSnapshot(name: String) async throws {
        try snapshotShelf.withLock { shelf in
            guard shelf.snapshots.removeValue(forKey: name) != nil else { throw MessageStoreError(.notFound, "no snapshot \"\(name)\"") }
        }
    }
}

extension MessageStore {
    /// Queues, their dead-letter queues and subscription queues (what holds messages).
    package func allStoredQueues() async throws -> [String] {
        var names: [String] = []
        for q in try await queues() { names += [q.name, EntityPath.deadLetterQueue(of: q.name)] }
        for t in try await topics() {
            for s in try await subscriptions(topic: t) { names += [s.queue, EntityPath.deadLetterQueue(of: s.queue)] }
        }
        return names
    }
}
