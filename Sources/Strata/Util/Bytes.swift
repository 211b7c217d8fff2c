import Glibc

/// Byte-wise three-way comparison of two buffers: the common prefix first,
/// then the shorter one first. This is the default key order.
///
/// Short prefixes (keys are mostly 8–32 bytes) are compared eight bytes
/// per load, inline: two big-endian words order like their bytes. That
/// saves the call into libc's memcmp and its size dispatch, which was a
/// few percent of every key comparison's cost in the skip list, the block
/// cursors and the merge; longer prefixes still go to memcmp. Always
/// inlined: as a call it cost readseq a tenth of its instructions.
@inlinable @inline(__always)
func compareBytes(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Int {
    let n = min(a.count, b.count)
    if n > 0 {
        let pa = a.baseAddress!, pb = b.baseAddress!
        if n <= 32 {
            var i = 0
            while i &+ 8 <= n {
                let x = pa.loadUnaligned(fromByteOffset: i, as: UInt64.self)
                let y = pb.loadUnaligned(fromByteOffset: i, as: UInt64.self)
                if x != y { return x.bigEndian < y.bigEndian ? -1 : 1 }
                i &+= 8
            }
            while i < n {
                let x = pa.load(fromByteOffset: i, as: UInt8.self)
                let y = pb.load(fromByteOffset: i, as: UInt8.self)
                if x != y { return x < y ? -1 : 1 }
                i &+= 1
            }
        } else {
            let r = memcmp(pa, pb, n)
            if r != 0 { return r < 0 ? -1 : 1 }
        }
    }
    return a.count < b.count ? -1 : (a.count > b.count ? 1 : 0)
}

@inlinable
func compareBytes(_ a: [UInt8], _ b: [UInt8]) -> Int {
    a.withUnsafeBytes { pa in b.withUnsafeBytes { pb in compareBytes(pa, pb) } }
}

@inlinable
func bytesEqual(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
    a.count == b.count && (a.count == 0 || memcmp(a.baseAddress!, b.baseAddress!, a.count) == 0)
}

extension UnsafeRawBufferPointer {
    /// Copies the bytes into a new array.
    @inlinable
    var array: [UInt8] { [UInt8](self) }
}
