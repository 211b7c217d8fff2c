import CLZ4

/// The compression algorithms an event or snapshot record can carry (one
/// byte in the record, so a store holds records of every kind at once).
package enum EventCompressionAlgorithm: UInt8, Sendable {
    case none = 0
    case lz4 = 1

    /// `bytes` compressed under `setting`, with the algorithm used: `.none`
    /// below the threshold, or when LZ4 would not save a byte.
    package static func compress(_ bytes: [UInt8], _ setting: EventStoreOptions.Compression) -> (EventCompressionAlgorithm, [UInt8]) {
        guard case .lz4(let threshold) = setting, bytes.count >= max(1, threshold), bytes.count < Int(Int32.max) else { return (.none, bytes) }
        let bound = Int(LZ4_compressBound(Int32(bytes.count)))
        var out = [UInt8](repeating: 0, count: bound)
        let n = bytes.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                src.baseAddress!.withMemoryRebound(to: CChar.self, capacity: src.count) { s in
                    dst.baseAddress!.withMemoryRebound(to: CChar.self, capacity: bound) { d in
                        LZ4_compress_default(s, d, Int32(src.count), Int32(bound))
                    }
                }
            }
        }
        guard n > 0, Int(n) < bytes.count else { return (.none, bytes) }
        out.removeSubrange(Int(n)...)
        return (.lz4, out)
    }

    /// Reverses `compress`; nil when the bytes do not decompress to exactly
    /// `rawLength` bytes (the caller reports corruption).
    package func decompress(_ stored: [UInt8], rawLength: Int) -> [UInt8]? {
        switch self {
        case .none: return stored.count == rawLength ? stored : nil
        case .lz4:
            guard rawLength > 0, rawLength < Int(Int32.max), !stored.isEmpty, stored.count < Int(Int32.max) else { return nil }
            var out = [UInt8](repeating: 0, count: rawLength)
            let n = stored.withUnsafeBufferPointer { src in
                out.withUnsafeMutableBufferPointer { dst in
                    src.baseAddress!.withMemoryRebound(to: CChar.self, capacity: src.count) { s in
                        dst.baseAddress!.withMemoryRebound(to: CChar.self, capacity: rawLength) { d in
                            LZ4_decompress_safe(s, d, Int32(src.count), Int32(rawLength))
                        }
                    }
                }
            }
            return Int(n) == rawLength ? out : nil
        }
    }
}
