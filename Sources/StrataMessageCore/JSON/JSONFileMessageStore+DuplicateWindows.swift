import Foundation

/// Duplicate-window markers (`state.json`'s `removed_ids_window_end_ms`) for
/// export and `importFile(replace: true)`, so a JSON store carries them like
/// every other backend.
extension JSONFileMessageStore: DuplicateWindowExport {
    /// Every id still inside its duplicate window, ordered by id.
    public func duplicateWindowMarkers() async throws -> [DuplicateWindowMarker] {
        let now = clock.now().millisecondsSince1970
        let removed = state.withLock { $0.removedIds }
        return removed.filter { $0.value > now }.sorted { $0.key < $1.key }
            .map { DuplicateWindowMarker(id: $0.key, until: Date(timeIntervalSince1970: Double($0.value) / 1000)) }
    }

    /// Records `markers`; an id stored as a message keeps its message.
    public func recordDuplicateWindowMarkers(_ markers: [DuplicateWindowMarker]) async throws {
        try await change { s in
            for m in markers where s.index[m.id] == nil { s.removedIds[m.id] = m.until.millisecondsSince1970 }
            if !markers.isEmpty { s.dirtyState = true }
        }
    }

    /// Forgets every marker.
    public func clearDuplicateWindowMarkers() async throws {
        try await change { s in
            if !s.removedIds.isEmpty { s.removedIds.removeAll(); s.dirtyState = true }
        }
    }
}
