import Foundation

/// An acknowledged message id still inside its queue's duplicate-detection
/// window: adding a message with this id before `until` is `.duplicateId`.
public struct DuplicateWindowMarker: Sendable, Equatable, Hashable {
    /// The message id.
    public var id: String
    /// When the window ends.
    public var until: Date

    /// A marker for `id` until `until`.
    public init(id: String, until: Date) {
        self.id = id
        self.until = until
    }
}

/// A store whose duplicate-window markers can be read and written, so an
/// export carries them and `importFile(replace: true)` leaves the store
/// equal to the file. Every backend of this package conforms.
public protocol DuplicateWindowExport: MessageStore {
    /// Every marker whose window has not ended, ordered by id.
    func duplicateWindowMarkers() async throws -> [DuplicateWindowMarker]
    /// Records `markers` (replacing a marker of the same id).
    func recordDuplicateWindowMarkers(_ markers: [DuplicateWindowMarker]) async throws
    /// Removes every marker.
    func clearDuplicateWindowMarkers() async throws
}
