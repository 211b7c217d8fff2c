import Glibc

/// A position inside one block: the engine of `BlockIterator`, the table
/// iterator and `TableReader.get`.
///
/// Noncopyable because it owns the growable buffer keys are rebuilt into.
/// A key that starts at a restart point (shared = 0) is not copied: `key`
/// then points straight into the block. Every varint and length is checked
/// against the entry area; a malformed entry makes the cursor invalid with
/// a `.corruption` error naming the file and block offset.
struct BlockCursor: ~Copyable {
    private(set) var block: Block?
    let order: BlockKeyOrder
    /// `order.isInternalKey`, kept as a plain flag for the per-entry checks.
    private let internalKeys: Bool
    /// The comparator of internal keys (`order`'s; its creator keeps the
    /// comparator alive).
    private let keyOrder: KeyOrder

    private var base: UnsafeRawPointer?
    /// Start of the block's restart array (a copy of the block's, so the hot
    /// paths do not touch the class reference).
    private var restarts: UnsafeRawPointer?
    private var entriesEnd = 0
    private var restartCount = 0

    /// Offset of the current entry; `entriesEnd` when not positioned.
    private var current = 0
    /// Offset just past the current entry.
    private var nextEntry = 0
    /// Restart region containing the current entry.
    private var restartIndex = 0

    private var keyPtr: UnsafeRawPointer?
    private var keyLength = 0
    private var valuePtr: UnsafeRawPointer?
    private var valueLength = 0

    private var buffer: UnsafeMutableRawPointer?
    private var bufferCapacity = 0
    private var bufferOwned = false

    private(set) var error: StrataError?

    init(order: BlockKeyOrder) {
        self.order = order
        self.internalKeys = order.isInternalKey
        self.keyOrder = order.keyOrder
    }

    /// A cursor whose first keys are rebuilt in `scratch` (not owned) until
    /// a longer key needs a heap buffer; saves an allocation per point lookup.
    init(order: BlockKeyOrder, scratch: UnsafeMutableRawBufferPointer) {
        self.order = order
        self.internalKeys = order.isInternalKey
        self.keyOrder = order.keyOrder
        buffer = scratch.baseAddress
        bufferCapacity = scratch.count
    }

    deinit {
        if bufferOwned { buffer?.deallocate() }
    }

    /// Points the cursor at `block` (or nowhere), unpositioned; keeps the key buffer.
    mutating func reset(_ block: Block?) {
        self.block = block
        base = block?.base
        entriesEnd = block?.entriesEnd ?? 0
        restarts = block.map { $0.base + $0.entriesEnd }
        restartCount = block?.restartCount ?? 0
        current = entriesEnd
        nextEntry = entriesEnd
        restartIndex = restartCount
        keyLength = 0
        valueLength = 0
        error = nil
    }

    var isValid: Bool { current < entriesEnd && error == nil }

    var key: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: keyPtr, count: keyLength) }
    var value: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: valuePtr, count: valueLength) }

    // MARK: Movement

    mutating func seekToFirst() {
        guard prepare() else { return }
        seekToRestart(0)
        _ = parseNext()
    }

    mutating func seekToLast() {
        guard prepare() else { return }
        seekToRestart(restartCount - 1)
        while parseNext() && nextEntry < entriesEnd {}
    }

    /// Positions at the first entry with key >= target.
    mutating func seek(_ target: UnsafeRawBufferPointer) {
        seek(target, restarts: nil)
    }

    /// `seek`, with the binary search over restarts confined to `range`
    /// when given: the caller knows (from a `RestartKeySample` of this
    /// block) that the last restart whose key is below `target` lies there.
    mutating func seek(_ target: UnsafeRawBufferPointer, restarts range: ClosedRange<Int>?) {
        guard prepare() else { return }
        if internalKeys && target.count < 8 {
            fail(StrataError(.invalidArgument, "seek target of \(target.count) bytes is not an internal key"))
            return
        }
        // Last restart whose key is < target; entries before it are all smaller.
        var left = 0
        var right = restartCount - 1
        if let range, range.lowerBound >= 0, range.upperBound < restartCount {
            left = range.lowerBound
            right = range.upperBound
        }
        while left < right {
            let mid = (left + right + 1) >> 1
            guard let k = keyAtRestart(mid) else { return }
            if compare(k, target) < 0 {
                left = mid
            } else {
                right = mid - 1
            }
        }
        seekToRestart(left)
        while parseNext() {
            if compare(key, target) >= 0 { return }
        }
    }

    mutating func next() {
        guard isValid else { return }
        _ = parseNext()
    }

    mutating func prev() {
        guard isValid else { return }
        let original = current
        while restartPoint(restartIndex) >= original {
            if restartIndex == 0 {
                invalidate()
                return
            }
            restartIndex -= 1
        }
        seekToRestart(restartIndex)
        while parseNext() && nextEntry < original {}
    }

    /// A `RestartKeySample` of this block's restart keys (internal keys in
    /// byte-wise order, the index blocks); nil when the block is too small
    /// to need one, or on corruption (the cursor then holds the error).
    mutating func sampleRestartKeys() -> RestartKeySample? {
        guard internalKeys, keyOrder.isBytewise, prepare(), restartCount > 4 * RestartKeySample.stride else { return nil }
        guard let first = keyAtRestart(0), let last = keyAtRestart(restartCount - 1) else { return nil }
        let a = UnsafeRawBufferPointer(rebasing: first[0..<(first.count - 8)])
        let b = UnsafeRawBufferPointer(rebasing: last[0..<(last.count - 8)])
        var common = 0
        while common < a.count && common < b.count && a[common] == b[common] { common += 1 }
        let prefix = Array(a[0..<common])
        var packed: [UInt64] = []
        packed.reserveCapacity(restartCount / RestartKeySample.stride + 1)
        var i = 0
        while i < restartCount {
            guard let k = keyAtRestart(i) else { return nil }
            let user = UnsafeRawBufferPointer(rebasing: k[0..<(k.count - 8)])
            // Sorted keys between the first and last share the prefix; a
            // block breaking that is out of order, and gets no sample.
            guard user.count >= common, bytesEqual(UnsafeRawBufferPointer(rebasing: user[0..<common]), UnsafeRawBufferPointer(rebasing: a[0..<common])) else { return nil }
            packed.append(RestartKeySample.pack(user, skipping: common))
            i += RestartKeySample.stride
        }
        invalidate()
        return RestartKeySample(prefix: prefix, packed: packed, restartCount: restartCount)
    }

    @inline(__always)
    private func compare(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Int {
        internalKeys ? keyOrder.compareInternal(a, b) : compareBytes(a, b)
    }

    // MARK: Decoding

    /// Clears the position; false when the block has no entries or the
    /// cursor already met an error (errors are sticky until `reset`).
    private mutating func prepare() -> Bool {
        guard error == nil, block != nil, restartCount > 0 else {
            invalidate()
            return false
        }
        return true
    }

    private mutating func invalidate() {
        current = entriesEnd
        nextEntry = entriesEnd
        restartIndex = restartCount
        keyLength = 0
        valueLength = 0
    }

    private mutating func fail(_ e: StrataError) {
        if error == nil { error = e }
        invalidate()
    }

    private mutating func corrupt(_ what: String, at offset: Int) {
        let b = block!
        fail(StrataError(.corruption, "\(b.path): bad block at offset \(b.fileOffset): \(what) at block byte \(offset)"))
    }

    @inline(__always)
    private func restartPoint(_ i: Int) -> Int {
        Int(loadFixed32(restarts! + i &* 4))
    }

    private mutating func seekToRestart(_ i: Int) {
        restartIndex = i
        keyLength = 0
        nextEntry = restartPoint(i)
    }

    /// Reads the three varint32 header fields of the entry at `p`.
    /// Returns the offset of the key delta, or nil when they run past the entries.
    @inline(__always)
    private func decodeHeader(at p: Int) -> (shared: Int, unshared: Int, valueLength: Int, keyStart: Int)? {
        let b = base!
        if p + 3 <= entriesEnd {
            let s = b.load(fromByteOffset: p, as: UInt8.self)
            let u = b.load(fromByteOffset: p + 1, as: UInt8.self)
            let v = b.load(fromByteOffset: p + 2, as: UInt8.self)
            if (s | u | v) < 0x80 { return (Int(s), Int(u), Int(v), p + 3) }
        }
        var r = ByteReader(UnsafeRawBufferPointer(start: b, count: entriesEnd), offset: p)
        guard let s = r.readVarint32(), let u = r.readVarint32(), let v = r.readVarint32() else { return nil }
        return (Int(s), Int(u), Int(v), r.offset)
    }

    /// The whole key stored at restart point `i` (shared must be 0), in place.
    private mutating func keyAtRestart(_ i: Int) -> UnsafeRawBufferPointer? {
        let p = restartPoint(i)
        guard let h = decodeHeader(at: p) else {
            corrupt("truncated entry header", at: p)
            return nil
        }
        guard h.shared == 0, h.unshared + h.valueLength <= entriesEnd - h.keyStart else {
            corrupt("bad restart entry", at: p)
            return nil
        }
        if internalKeys && h.unshared < 8 {
            corrupt("internal key shorter than 8 bytes", at: p)
            return nil
        }
        return UnsafeRawBufferPointer(start: base! + h.keyStart, count: h.unshared)
    }

    /// Decodes the entry at `nextEntry`; false at the end or on corruption.
    private mutating func parseNext() -> Bool {
        current = nextEntry
        guard current < entriesEnd else {
            invalidate()
            return false
        }
        let p = current
        guard let h = decodeHeader(at: p) else {
            corrupt("truncated entry header", at: p)
            return false
        }
        guard h.shared <= keyLength, h.unshared + h.valueLength <= entriesEnd - h.keyStart else {
            corrupt("entry lengths out of range", at: p)
            return false
        }
        let length = h.shared + h.unshared
        if internalKeys && length < 8 {
            corrupt("internal key shorter than 8 bytes", at: p)
            return false
        }
        let delta = base! + h.keyStart
        if h.shared == 0 {
            keyPtr = delta
        } else {
            let inBuffer = keyPtr == UnsafeRawPointer(buffer) && buffer != nil
            if length > bufferCapacity {
                grow(to: length, preserving: inBuffer ? h.shared : 0)
            }
            let dst = buffer!
            if !inBuffer { dst.copyMemory(from: keyPtr!, byteCount: h.shared) }
            (dst + h.shared).copyMemory(from: delta, byteCount: h.unshared)
            keyPtr = UnsafeRawPointer(dst)
        }
        keyLength = length
        valuePtr = delta + h.unshared
        valueLength = h.valueLength
        nextEntry = h.keyStart + h.unshared + h.valueLength
        while restartIndex + 1 < restartCount && restartPoint(restartIndex + 1) <= current {
            restartIndex += 1
        }
        return true
    }

    private mutating func grow(to needed: Int, preserving: Int) {
        var capacity = max(64, bufferCapacity)
        while capacity < needed { capacity *= 2 }
        let fresh = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 8)
        if preserving > 0 { fresh.copyMemory(from: buffer!, byteCount: preserving) }
        if bufferOwned { buffer?.deallocate() }
        buffer = fresh
        bufferCapacity = capacity
        bufferOwned = true
    }
}
