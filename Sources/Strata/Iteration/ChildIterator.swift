/// A `MergingIterator` child, held without ownership and dispatched by
/// concrete type: the per-entry calls of a merge (`isValid`, `key`,
/// `value`, `next`, `prev`) then cost neither a retain/release pair nor a
/// witness-table call, which together were a third of a scan's time
/// through `any InternalIterator`. The merging iterator's `children` array
/// owns the objects. The user-key `Iterator` steps its merged source the
/// same way (whoever holds a `ChildIterator` keeps the object alive).
enum ChildIterator {
    case memtable(Unmanaged<MemtableIterator>)
    case table(Unmanaged<TableIterator>)
    case level(Unmanaged<LevelIterator>)
    case merging(Unmanaged<MergingIterator>)
    /// Any other kind, through the existential (owned: rare, and correct for any type).
    case other(any InternalIterator)

    init(_ it: any InternalIterator) {
        if let m = it as? MemtableIterator {
            self = .memtable(.passUnretained(m))
        } else if let t = it as? TableIterator {
            self = .table(.passUnretained(t))
        } else if let l = it as? LevelIterator {
            self = .level(.passUnretained(l))
        } else if let m = it as? MergingIterator {
            self = .merging(.passUnretained(m))
        } else {
            self = .other(it)
        }
    }

    @inline(__always)
    var isValid: Bool {
        switch self {
        case .memtable(let u): u._withUnsafeGuaranteedRef { $0.isValid }
        case .table(let u): u._withUnsafeGuaranteedRef { $0.isValid }
        case .level(let u): u._withUnsafeGuaranteedRef { $0.isValid }
        case .merging(let u): u._withUnsafeGuaranteedRef { $0.isValid }
        case .other(let it): it.isValid
        }
    }

    @inline(__always)
    var key: UnsafeRawBufferPointer {
        switch self {
        case .memtable(let u): u._withUnsafeGuaranteedRef { $0.key }
        case .table(let u): u._withUnsafeGuaranteedRef { $0.key }
        case .level(let u): u._withUnsafeGuaranteedRef { $0.key }
        case .merging(let u): u._withUnsafeGuaranteedRef { $0.key }
        case .other(let it): it.key
        }
    }

    @inline(__always)
    var value: UnsafeRawBufferPointer {
        switch self {
        case .memtable(let u): u._withUnsafeGuaranteedRef { $0.value }
        case .table(let u): u._withUnsafeGuaranteedRef { $0.value }
        case .level(let u): u._withUnsafeGuaranteedRef { $0.value }
        case .merging(let u): u._withUnsafeGuaranteedRef { $0.value }
        case .other(let it): it.value
        }
    }

    @inline(__always)
    func next() {
        switch self {
        case .memtable(let u): u._withUnsafeGuaranteedRef { $0.next() }
        case .table(let u): u._withUnsafeGuaranteedRef { $0.next() }
        case .level(let u): u._withUnsafeGuaranteedRef { $0.next() }
        case .merging(let u): u._withUnsafeGuaranteedRef { $0.next() }
        case .other(let it): it.next()
        }
    }

    @inline(__always)
    func prev() {
        switch self {
        case .memtable(let u): u._withUnsafeGuaranteedRef { $0.prev() }
        case .table(let u): u._withUnsafeGuaranteedRef { $0.prev() }
        case .level(let u): u._withUnsafeGuaranteedRef { $0.prev() }
        case .merging(let u): u._withUnsafeGuaranteedRef { $0.prev() }
        case .other(let it): it.prev()
        }
    }
}
