import Synchronization

/// Every `Version` the engine has installed that is still alive somewhere:
/// the current one, and older ones pinned by super versions that readers,
/// iterators or a running compaction still hold.
///
/// Held weakly, so a version dies when its last reader lets go and no
/// explicit release is needed on any read path. A table file may be deleted
/// only when no version in here lists it.
final class LiveVersions: Sendable {
    private struct WeakVersion {
        weak var version: Version?
    }

    private let entries = Locked<[WeakVersion]>([])
    /// Dead versions swept by `register` since the last file sweep: their
    /// files may be obsolete even though nobody asked yet.
    private let released = Atomic<Int>(0)

    func register(_ version: Version) {
        // A version without files pins nothing; skipping it also keeps the
        // static empty version out of here (a weak reference to an object
        // that lives forever only adds a side table that is never freed).
        if version.totalFiles == 0 { return }
        let swept = entries.withLock { list in
            let before = list.count
            list.removeAll { $0.version == nil }
            let removed = before - list.count
            if !list.contains(where: { $0.version === version }) { list.append(WeakVersion(version: version)) }
            return removed
        }
        if swept > 0 { released.add(swept, ordering: .relaxed) }
    }

    /// Table file numbers listed by any live version.
    func liveFileNumbers() -> Set<UInt64> {
        released.store(0, ordering: .relaxed)
        return entries.withLock { list in
            list.removeAll { $0.version == nil }
            var live = Set<UInt64>()
            for entry in list {
                guard let v = entry.version else { continue }
                for level in v.files { for f in level { live.insert(f.number) } }
            }
            return live
        }
    }

    /// Whether a registered version has died since the last
    /// `liveFileNumbers()`, so a file sweep may free something.
    var hasReleasedVersions: Bool {
        if released.load(ordering: .relaxed) > 0 { return true }
        return entries.withLock { list in list.contains { $0.version == nil } }
    }

    /// Number of live versions (tests).
    var count: Int { entries.withLock { list in list.reduce(0) { $0 + ($1.version == nil ? 0 : 1) } } }
}
