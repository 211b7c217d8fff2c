import Foundation

/// The JSON backend's file contents (Docs/message-store.md, "JSON files").
/// Times are written twice: `*_ref`, seconds since 2001-01-01 as a double
/// (what is read back, exact), and an ISO 8601 string for people.
enum JSONRecords {
    /// `messages/<queue file>.json`.
    struct QueueFile: Codable {
        var queue: String
        var messages: [StoredMessage]
    }

    /// One stored message with its place and lock.
    struct StoredMessage: Codable {
        var id: String
        var sequence: Int64
        var visibleAtMs: Int64
        var timestamp: String
        var timestampRef: Double
        var payload: String?
        var payloadBase64: String?
        var headers: [String: String]
        var deliveryCount: Int
        var scheduledAtRef: Double?
        var expiresAtRef: Double?
        var lockToken: UUID?
        var lockedUntilMs: Int64?

        enum CodingKeys: String, CodingKey {
            case id, sequence, timestamp, payload, headers
            case visibleAtMs = "visible_at_ms", timestampRef = "timestamp_ref", payloadBase64 = "payload_base64"
            case deliveryCount = "delivery_count", scheduledAtRef = "scheduled_at_ref", expiresAtRef = "expires_at_ref"
            case lockToken = "lock_token", lockedUntilMs = "locked_until_ms"
        }

        init(_ e: JSONFileMessageStore.Entry) {
            let m = e.message
            id = m.id
            sequence = e.sequence
            visibleAtMs = e.visibleAt
            timestamp = m.timestamp.formatted(.iso8601)
            timestampRef = m.timestamp.timeIntervalSinceReferenceDate
            if let text = String(validating: m.payload, as: UTF8.self) { payload = text } else {
                payloadBase64 = Data(m.payload).base64EncodedString()
            }
            headers = m.headers
            deliveryCount = m.deliveryCount
            scheduledAtRef = m.scheduledAt?.timeIntervalSinceReferenceDate
            expiresAtRef = m.expiresAt?.timeIntervalSinceReferenceDate
            lockToken = e.lock?.id
            lockedUntilMs = e.lock?.until
        }

        func entry(queue: String) throws -> JSONFileMessageStore.Entry {
            let payload: [UInt8]
            if let p = self.payload { payload = Array(p.utf8) } else if let b = payloadBase64 {
                guard let d = Data(base64Encoded: b) else { throw MessageStoreError(.corruption, "message \(id): payload_base64 is not base64") }
                payload = Array(d)
            } else { payload = [] }
            let m = Message(id: id, queue: queue, payload: payload, timestamp: Date(timeIntervalSinceReferenceDate: timestampRef),
                            headers: headers, deliveryCount: deliveryCount,
                            scheduledAt: scheduledAtRef.map(Date.init(timeIntervalSinceReferenceDate:)),
                            expiresAt: expiresAtRef.map(Date.init(timeIntervalSinceReferenceDate:)))
            let lock = lockToken.flatMap { t in lockedUntilMs.map { (id: t, until: $0) } }
            return JSONFileMessageStore.Entry(message: m, sequence: sequence, visibleAt: visibleAtMs, lock: lock)
        }
    }

    /// `entities/queues.json`.
    struct QueueEntity: Codable {
        var name: String
        var settings: QueueSettings
    }

    /// `entities/subscriptions.json`.
    struct SubscriptionEntity: Codable {
        var topic: String
        var name: String
        var settings: QueueSettings
        var filter: SubscriptionFilter
    }

    /// `state.json`: the next sequence and the duplicate-window markers.
    struct State: Codable {
        var nextSequence: Int64
        var removedIds: [String: Int64]
        enum CodingKeys: String, CodingKey {
            case nextSequence = "next_sequence", removedIds = "removed_ids_window_end_ms"
        }
    }
}
