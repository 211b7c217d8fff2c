/// Paging and the reload list, observed like every other call.
extension InstrumentedMessageStore {
    public func pending(queue: String, after id: String?, limit: Int) async throws -> [Message] {
        try await observed("pending") { try await base.pending(queue: queue, after: id, limit: limit) }
    }

    public func recent(queue: String, before id: String?, limit: Int) async throws -> [Message] {
        try await observed("recent") { try await base.recent(queue: queue, before: id, limit: limit) }
    }

    public func allQueueNames() async throws -> [String] {
        try await observed("allQueueNames") { try await base.allQueueNames() }
    }
}
