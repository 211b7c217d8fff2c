import Synchronization

/// A bump allocator for memtable nodes.
///
/// Memory comes from large blocks and is never freed piece by piece: a
/// memtable only grows until it is flushed and dropped, so releasing all
/// blocks at once in `deinit` is both sufficient and far cheaper than
/// per-node allocation. Requests larger than a quarter of a block get a
/// block of their own so they do not waste the tail of the current one.
///
/// Thread safety: `allocate` must only be called by one thread at a time
/// (the memtable's single writer). `memoryUsage` may be read from any
/// thread. Memory handed out stays valid until the arena is deallocated,
/// which is what lets lock-free readers hold raw pointers into it.
final class Arena: @unchecked Sendable {
    /// Bytes at the start of every block holding the link to the previous
    /// block (kept 16 wide so payloads stay 16-byte aligned).
    private static let blockHeaderSize = 16

    private let blockSize: Int
    /// Next free byte of the current block.
    private var cursor: UnsafeMutableRawPointer?
    /// Free bytes left after `cursor` in the current block.
    private var remaining = 0
    /// Most recently allocated block; blocks form a list through their headers.
    private var newestBlock: UnsafeMutableRawPointer?
    /// Sum of the sizes of all blocks obtained from the system.
    private var reservedBytes = 0
    /// `reservedBytes - remaining`, published for readers on other threads.
    private let usage = Atomic<Int>(0)

    init(blockSize: Int = 1 << 20) {
        precondition(blockSize >= 4096, "arena blocks must be at least 4 KiB")
        self.blockSize = blockSize
    }

    deinit {
        var block = newestBlock
        while let b = block {
            block = b.load(as: UnsafeMutableRawPointer?.self)
            b.deallocate()
        }
    }

    /// Bytes taken from the system that are in use or lost to padding and
    /// block tails; excludes the unused rest of the current block.
    var memoryUsage: Int { usage.load(ordering: .relaxed) }

    /// Returns `bytes` of uninitialised memory aligned to `alignment` (a
    /// power of two), valid until the arena is deallocated.
    @inline(__always)
    func allocate(_ bytes: Int, alignment: Int) -> UnsafeMutableRawPointer {
        if let c = cursor {
            let padding = (alignment &- (Int(bitPattern: c) & (alignment &- 1))) & (alignment &- 1)
            let needed = padding &+ bytes
            if needed <= remaining {
                cursor = c + needed
                remaining &-= needed
                usage.store(reservedBytes &- remaining, ordering: .relaxed)
                return c + padding
            }
        }
        return allocateSlow(bytes, alignment: alignment)
    }

    private func allocateSlow(_ bytes: Int, alignment: Int) -> UnsafeMutableRawPointer {
        precondition(bytes >= 0 && alignment > 0 && alignment & (alignment - 1) == 0)
        let headerAlignment = Self.blockHeaderSize
        if bytes > blockSize / 4 || alignment > headerAlignment {
            // Oversized (or oddly aligned) requests get a dedicated block;
            // the current block keeps serving small requests.
            let offset = max(headerAlignment, alignment)
            let block = newBlock(size: offset + bytes, alignment: max(headerAlignment, alignment))
            usage.store(reservedBytes - remaining, ordering: .relaxed)
            return block + offset
        }
        let block = newBlock(size: blockSize, alignment: headerAlignment)
        cursor = block + headerAlignment + bytes
        remaining = blockSize - headerAlignment - bytes
        usage.store(reservedBytes - remaining, ordering: .relaxed)
        return block + headerAlignment
    }

    private func newBlock(size: Int, alignment: Int) -> UnsafeMutableRawPointer {
        let block = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: alignment)
        block.storeBytes(of: newestBlock, as: UnsafeMutableRawPointer?.self)
        newestBlock = block
        reservedBytes += size
        return block
    }
}
