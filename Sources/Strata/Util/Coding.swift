/// Little-endian fixed-width and LEB128 varint encodings used by every format.
/// Encoders append to `[UInt8]`; decoding goes through `ByteReader`, which
/// checks every length against the bytes it has before reading.

extension Array where Element == UInt8 {
    @inlinable
    mutating func appendFixed32(_ v: UInt32) {
        append(UInt8(truncatingIfNeeded: v))
        append(UInt8(truncatingIfNeeded: v >> 8))
        append(UInt8(truncatingIfNeeded: v >> 16))
        append(UInt8(truncatingIfNeeded: v >> 24))
    }

    @inlinable
    mutating func appendFixed64(_ v: UInt64) {
        appendFixed32(UInt32(truncatingIfNeeded: v))
        appendFixed32(UInt32(truncatingIfNeeded: v >> 32))
    }

    @inlinable
    mutating func appendVarint32(_ v: UInt32) { appendVarint64(UInt64(v)) }

    @inlinable
    mutating func appendVarint64(_ v: UInt64) {
        var v = v
        while v >= 0x80 {
            append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        append(UInt8(v))
    }

    /// Appends a varint length followed by the bytes.
    @inlinable
    mutating func appendLengthPrefixed(_ bytes: UnsafeRawBufferPointer) {
        appendVarint32(UInt32(bytes.count))
        append(contentsOf: bytes)
    }

    @inlinable
    mutating func appendLengthPrefixed(_ bytes: [UInt8]) {
        appendVarint32(UInt32(bytes.count))
        append(contentsOf: bytes)
    }

    /// Overwrites 4 bytes at `offset` with `v`, little-endian.
    @inlinable
    mutating func storeFixed32(_ v: UInt32, at offset: Int) {
        self[offset] = UInt8(truncatingIfNeeded: v)
        self[offset + 1] = UInt8(truncatingIfNeeded: v >> 8)
        self[offset + 2] = UInt8(truncatingIfNeeded: v >> 16)
        self[offset + 3] = UInt8(truncatingIfNeeded: v >> 24)
    }
}

/// Number of bytes `appendVarint64(v)` writes.
@inlinable
func varintLength(_ v: UInt64) -> Int {
    var v = v
    var n = 1
    while v >= 0x80 { v >>= 7; n += 1 }
    return n
}

@inlinable
func loadFixed32(_ p: UnsafeRawPointer) -> UInt32 {
    UInt32(littleEndian: p.loadUnaligned(as: UInt32.self))
}

@inlinable
func loadFixed64(_ p: UnsafeRawPointer) -> UInt64 {
    UInt64(littleEndian: p.loadUnaligned(as: UInt64.self))
}

@inlinable
func storeFixed32(_ p: UnsafeMutableRawPointer, _ v: UInt32) {
    p.storeBytes(of: v.littleEndian, as: UInt32.self)
}

@inlinable
func storeFixed64(_ p: UnsafeMutableRawPointer, _ v: UInt64) {
    p.storeBytes(of: v.littleEndian, as: UInt64.self)
}

/// A bounds-checked cursor over untrusted bytes. Every read returns nil
/// instead of reading past the end, so decoders turn truncation into a
/// `.corruption` error rather than a crash.
@usableFromInline
struct ByteReader {
    @usableFromInline let base: UnsafeRawBufferPointer
    @usableFromInline var offset: Int

    @inlinable
    init(_ base: UnsafeRawBufferPointer, offset: Int = 0) {
        self.base = base
        self.offset = offset
    }

    @inlinable var remaining: Int { base.count - offset }
    @inlinable var isAtEnd: Bool { offset >= base.count }

    @inlinable
    mutating func readByte() -> UInt8? {
        guard offset < base.count else { return nil }
        defer { offset += 1 }
        return base[offset]
    }

    @inlinable
    mutating func readFixed32() -> UInt32? {
        guard remaining >= 4 else { return nil }
        defer { offset += 4 }
        return loadFixed32(base.baseAddress! + offset)
    }

    @inlinable
    mutating func readFixed64() -> UInt64? {
        guard remaining >= 8 else { return nil }
        defer { offset += 8 }
        return loadFixed64(base.baseAddress! + offset)
    }

    @inlinable
    mutating func readVarint64() -> UInt64? {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while offset < base.count && shift <= 63 {
            let b = base[offset]
            offset += 1
            result |= UInt64(b & 0x7f) << shift
            if b < 0x80 { return result }
            shift += 7
        }
        return nil
    }

    @inlinable
    mutating func readVarint32() -> UInt32? {
        guard let v = readVarint64(), v <= UInt64(UInt32.max) else { return nil }
        return UInt32(v)
    }

    /// The next `count` bytes as a slice of the underlying buffer (no copy).
    @inlinable
    mutating func readBytes(_ count: Int) -> UnsafeRawBufferPointer? {
        guard count >= 0, remaining >= count else { return nil }
        defer { offset += count }
        return UnsafeRawBufferPointer(rebasing: base[offset..<offset + count])
    }

    @inlinable
    mutating func readLengthPrefixed() -> UnsafeRawBufferPointer? {
        guard let n = readVarint32() else { return nil }
        return readBytes(Int(n))
    }
}
