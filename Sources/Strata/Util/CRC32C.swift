import CStrataSupport

/// CRC32C checksums as stored in every Strata file.
///
/// Stored checksums are *masked*: a CRC of data that itself contains CRCs is
/// weak, so the value written is rotated and offset (see Docs/format.md).
@usableFromInline
enum CRC32C {
    @inlinable
    static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        strata_crc32c_extend(0, bytes.baseAddress, bytes.count)
    }

    @inlinable
    static func extend(_ crc: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
        strata_crc32c_extend(crc, bytes.baseAddress, bytes.count)
    }

    static func checksum(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBytes { checksum($0) }
    }

    static let maskDelta: UInt32 = 0xa282_ead8

    @inlinable
    static func mask(_ crc: UInt32) -> UInt32 {
        ((crc >> 15) | (crc << 17)) &+ 0xa282_ead8
    }

    @inlinable
    static func unmask(_ masked: UInt32) -> UInt32 {
        let rot = masked &- 0xa282_ead8
        return (rot >> 17) | (rot << 15)
    }
}
