import Foundation
import Strata

/// Duplicate-window markers of the LSM store: the `ids` family's
/// `.removed(windowEnd:)` entries (Docs/message-store.md, family `ids`).
extension LSMMessageStore: DuplicateWindowExport {
    /// Every id whose window has not ended, ordered by id (byte-wise).
    public func duplicateWindowMarkers() async throws -> [DuplicateWindowMarker] {
        let o = try opened()
        let now = clock.now().millisecondsSince1970
        var out: [DuplicateWindowMarker] = []
        let it = try o.db.makeIterator(in: o.ids)
        it.seekToFirst()
        while it.isValid {
            if it.value.first == 2, case .removed(let end) = try MessageCodec.decodeIdEntry(it.value), end > now,
               let id = String(validating: it.key, as: UTF8.self) {
                out.append(DuplicateWindowMarker(id: id, until: Date(timeIntervalSince1970: Double(end) / 1000)))
            }
            it.next()
        }
        try it.checkStatus()
        return out
    }

    /// Records `markers` in one batch; an id stored as a message keeps its message.
    public func recordDuplicateWindowMarkers(_ markers: [DuplicateWindowMarker]) async throws {
        let o = try opened()
        var batch = WriteBatch()
        for m in markers {
            let key = Array(m.id.utf8)
            if let raw = try o.db.get(key, in: o.ids), raw.first == 1 { continue }
            batch.put(key, MessageCodec.encode(.removed(windowEnd: Int64((m.until.timeIntervalSince1970 * 1000).rounded()))), in: o.ids)
        }
        if batch.count > 0 { try await write(batch, o) }
    }

    /// Deletes every marker (in one batch).
    public func clearDuplicateWindowMarkers() async throws {
        let o = try opened()
        var batch = WriteBatch()
        let it = try o.db.makeIterator(in: o.ids)
        it.seekToFirst()
        while it.isValid {
            if it.value.first == 2 { batch.delete(it.key, in: o.ids) }
            it.next()
        }
        try it.checkStatus()
        if batch.count > 0 { try await write(batch, o) }
    }
}
