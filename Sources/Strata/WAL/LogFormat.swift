/// Constants of the write-ahead log format (also used by the MANIFEST).
///
/// A log is a sequence of 32 KiB blocks. A record is cut into fragments
/// that never cross a block boundary; each fragment has a 7-byte header:
/// masked CRC32C (fixed32 LE, over the type byte then the payload), payload
/// length (fixed16 LE), type (1 byte). A block tail too short for a header
/// is zero-filled. See Docs/format-wal.md.
enum LogFormat {
    static let blockSize = 32 * 1024
    static let headerSize = 7

    /// Fragment types. Zero is never written as a fragment: it marks
    /// zero-filled (preallocated or padding) space.
    enum FragmentType: UInt8 {
        case zero = 0
        case full = 1
        case first = 2
        case middle = 3
        case last = 4
    }

    static let maxFragmentType: UInt8 = 4

    /// CRC32C of each single type byte, so the per-fragment checksum only
    /// has to extend over the payload.
    static let typeCRC: [UInt32] = (0...maxFragmentType).map { t in
        withUnsafeBytes(of: t) { CRC32C.checksum($0) }
    }
}
