/// Internal keys: what the memtable, table files and iterators order.
///
/// Layout: user key bytes, then an 8-byte little-endian trailer
/// `(sequence << 8) | kind`. Order: user key ascending (byte-wise), then
/// trailer descending, so the newest version of a key comes first.

/// A sequence number: 56 bits, assigned to each record of a committed batch.
public typealias SequenceNumber = UInt64

/// The largest sequence number that fits in an internal key's trailer.
let maxSequenceNumber: SequenceNumber = (1 << 56) - 1

/// What an internal key's record means.
@usableFromInline
enum ValueKind: UInt8, Sendable {
    case deletion = 0
    case value = 1
    case rangeDeletion = 2

    /// The kind used in seek targets: the largest, so a target built from
    /// `(key, seq)` sorts before every entry of `key` with sequence <= seq.
    @usableFromInline static let forSeek: ValueKind = .rangeDeletion
}

@inlinable
func packTrailer(_ seq: SequenceNumber, _ kind: ValueKind) -> UInt64 {
    (seq << 8) | UInt64(kind.rawValue)
}

/// Appends an internal key for (userKey, seq, kind) to `out`.
@inlinable
func appendInternalKey(_ out: inout [UInt8], _ userKey: UnsafeRawBufferPointer, _ seq: SequenceNumber, _ kind: ValueKind) {
    out.append(contentsOf: userKey)
    out.appendFixed64(packTrailer(seq, kind))
}

func makeInternalKey(_ userKey: [UInt8], _ seq: SequenceNumber, _ kind: ValueKind) -> [UInt8] {
    var out = [UInt8]()
    out.reserveCapacity(userKey.count + 8)
    userKey.withUnsafeBytes { appendInternalKey(&out, $0, seq, kind) }
    return out
}

/// The user-key part of an internal key. Caller guarantees count >= 8.
@inlinable
func userKeyOf(_ ikey: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
    UnsafeRawBufferPointer(rebasing: ikey[0..<(ikey.count - 8)])
}

/// The trailer of an internal key. Caller guarantees count >= 8.
@inlinable
func trailerOf(_ ikey: UnsafeRawBufferPointer) -> UInt64 {
    loadFixed64(ikey.baseAddress! + (ikey.count - 8))
}

@inlinable
func sequenceOf(_ ikey: UnsafeRawBufferPointer) -> SequenceNumber { trailerOf(ikey) >> 8 }

/// The kind byte of an internal key; nil when it is not a known kind.
@inlinable
func kindOf(_ ikey: UnsafeRawBufferPointer) -> ValueKind? { ValueKind(rawValue: UInt8(truncatingIfNeeded: trailerOf(ikey))) }

/// Three-way comparison of two internal keys (user key ascending, trailer descending).
@inlinable
func compareInternalKeys(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Int {
    let r = compareBytes(userKeyOf(a), userKeyOf(b))
    if r != 0 { return r }
    let ta = trailerOf(a), tb = trailerOf(b)
    return ta > tb ? -1 : (ta < tb ? 1 : 0)
}

func compareInternalKeys(_ a: [UInt8], _ b: [UInt8]) -> Int {
    a.withUnsafeBytes { pa in b.withUnsafeBytes { pb in compareInternalKeys(pa, pb) } }
}
