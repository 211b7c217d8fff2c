/// Builds one block: prefix-compressed entries with a restart point every
/// `restartInterval` entries, then the restart offsets and their count.
///
/// Entry: `shared varint32 | unshared varint32 | valueLength varint32 |
/// key delta | value`. At a restart point `shared` is 0, so readers can
/// binary-search the restart array comparing whole keys in place.
/// The caller adds keys in increasing order (of whatever order the block uses).
struct BlockBuilder {
    private(set) var buffer: [UInt8] = []
    private var restarts: [UInt32] = [0]
    private var sinceRestart = 0
    private var lastKey: [UInt8] = []
    private(set) var entryCount = 0
    private var finished = false
    let restartInterval: Int

    init(restartInterval: Int) {
        precondition(restartInterval >= 1, "restart interval must be at least 1")
        self.restartInterval = restartInterval
    }

    var isEmpty: Bool { entryCount == 0 }

    /// Size of the block if it were finished now.
    var estimatedSize: Int { buffer.count + restarts.count * 4 + 4 }

    mutating func reset() {
        buffer.removeAll(keepingCapacity: true)
        restarts.removeAll(keepingCapacity: true)
        restarts.append(0)
        sinceRestart = 0
        lastKey.removeAll(keepingCapacity: true)
        entryCount = 0
        finished = false
    }

    mutating func add(_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) {
        precondition(!finished, "add after finish")
        var shared = 0
        if sinceRestart < restartInterval {
            let n = min(lastKey.count, key.count)
            lastKey.withUnsafeBytes { last in
                while shared < n && last[shared] == key[shared] { shared += 1 }
            }
        } else {
            restarts.append(UInt32(buffer.count))
            sinceRestart = 0
        }
        let unshared = key.count - shared
        buffer.appendVarint32(UInt32(shared))
        buffer.appendVarint32(UInt32(unshared))
        buffer.appendVarint32(UInt32(value.count))
        buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: key[shared...]))
        buffer.append(contentsOf: value)
        lastKey.removeSubrange(shared...)
        lastKey.append(contentsOf: UnsafeRawBufferPointer(rebasing: key[shared...]))
        sinceRestart += 1
        entryCount += 1
    }

    /// Appends the restart array; the finished block is `buffer`.
    mutating func finish() {
        precondition(!finished, "finish twice")
        for r in restarts { buffer.appendFixed32(r) }
        buffer.appendFixed32(UInt32(restarts.count))
        finished = true
    }
}
