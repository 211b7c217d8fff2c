/// Appends the fields of the message store's records: varints, `varint
/// length + bytes`, and little-endian fixed-width integers.
package struct RecordWriter {
    package var out: [UInt8] = []

    package init(out: [UInt8] = []) { self.out = out }

    /// `out`, with room for `capacity` bytes in all (one allocation for a
    /// record whose size is known up front).
    package init(out: [UInt8], reservingCapacity capacity: Int) {
        self.out = out
        self.out.reserveCapacity(capacity)
    }

    package mutating func varint(_ v: UInt64) {
        var v = v
        while v >= 0x80 { out.append(UInt8(v & 0x7f) | 0x80); v >>= 7 }
        out.append(UInt8(v))
    }

    package mutating func bytes(_ b: [UInt8]) { varint(UInt64(b.count)); out.append(contentsOf: b) }

    /// A string's UTF-8 bytes, length first, without an intermediate array.
    package mutating func bytes(_ s: String.UTF8View) { varint(UInt64(s.count)); out.append(contentsOf: s) }

    /// The low `n` bytes of `v`, least significant first.
    package mutating func fixed(_ v: UInt64, _ n: Int = 8) {
        withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0.prefix(n)) }
    }
}

/// Reads what `RecordWriter` wrote, checking every length: anything short
/// or malformed is `MessageStoreError.corruption` naming the record kind and
/// the byte. Starts after the record's version byte.
package struct RecordReader {
    package let b: [UInt8]
    package let what: String
    package var i = 1

    package init(_ bytes: [UInt8], what: String) {
        b = bytes
        self.what = what
    }

    package func bad() -> MessageStoreError { MessageStoreError(.corruption, "undecodable \(what) at byte \(i) of \(b.count)") }

    package mutating func varint() throws -> UInt64 {
        var r: UInt64 = 0, shift: UInt64 = 0
        while i < b.count, shift <= 63 {
            let x = b[i]
            i += 1
            r |= UInt64(x & 0x7f) << shift
            if x < 0x80 { return r }
            shift += 7
        }
        throw bad()
    }

    package mutating func bytes() throws -> [UInt8] {
        let n = try varint()
        guard n <= UInt64(b.count - i) else { throw bad() }
        defer { i += Int(n) }
        return Array(b[i..<i + Int(n)])
    }

    package mutating func string() throws -> String {
        guard let s = String(validating: try bytes(), as: UTF8.self) else { throw bad() }
        return s
    }

    package mutating func fixed(_ n: Int = 8) throws -> UInt64 {
        guard b.count - i >= n else { throw bad() }
        var v: UInt64 = 0
        for k in 0..<n { v |= UInt64(b[i + k]) << UInt64(8 * k) }
        i += n
        return v
    }
}
