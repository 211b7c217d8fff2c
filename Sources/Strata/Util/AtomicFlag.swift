import Synchronization

/// A flag that can be raised once; `setOnce()` returns true for the one
/// caller that raised it. Used to make close/unlock idempotent across threads.
final class AtomicFlag: Sendable {
    private let raised = Atomic<Bool>(false)
    init() {}
    func setOnce() -> Bool {
        raised.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged
    }
    var isSet: Bool { raised.load(ordering: .acquiring) }
}
