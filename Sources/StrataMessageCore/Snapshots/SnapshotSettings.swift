/// Runs between the steps of creating a snapshot; a test throws from it to
/// stand for a kill at that point.
public typealias SnapshotHook = @Sendable (SnapshotStep) throws -> Void

/// A store's snapshot settings, changeable while it runs (`snapshotOptions`
/// on every backend), and the test hook.
package final class SnapshotSettings: Sendable {
    private let state: StoreLock<(options: SnapshotOptions, hook: SnapshotHook?)>
    /// Where snapshots go when `options.directory` is nil.
    package let defaultDirectory: String
    /// Serializes a store's snapshot operations where a directory lock
    /// cannot (the LSM store's snapshots go through the engine's file
    /// system); taken on a dispatch thread, never on the cooperative pool.
    package let serial = StoreLock<Void>(())

    /// Settings with `options`, snapshots in `defaultDirectory` unless the
    /// options name another.
    package init(_ options: SnapshotOptions = SnapshotOptions(), defaultDirectory: String) {
        state = StoreLock((options, nil))
        self.defaultDirectory = defaultDirectory
    }

    /// The current options.
    package var options: SnapshotOptions {
        get { state.withLock { $0.options } }
        set { state.withLock { $0.options = newValue } }
    }

    /// The test hook (nil in production).
    package var hook: SnapshotHook? {
        get { state.withLock { $0.hook } }
        set { state.withLock { $0.hook = newValue } }
    }

    /// The snapshot directory in use.
    package var directory: String { options.directory ?? defaultDirectory }

    /// Snapshots as directories in `directory`.
    package var directorySnapshots: DirectorySnapshots { DirectorySnapshots(directory: directory) }
}
