/// Reads a fuzzer's input as a stream of choices. Past the end every read
/// returns zero, so any input is a complete, valid program.
public struct FuzzInput {
    private let bytes: [UInt8]
    private var position = 0

    public init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// Whether every byte has been consumed.
    public var isAtEnd: Bool { position >= bytes.count }

    /// Bytes not consumed yet.
    public var remaining: Int { max(0, bytes.count - position) }

    /// The next byte, or 0 past the end.
    public mutating func byte() -> UInt8 {
        guard position < bytes.count else { return 0 }
        defer { position += 1 }
        return bytes[position]
    }

    /// A little-endian 16-bit number.
    public mutating func uint16() -> Int {
        Int(byte()) | Int(byte()) << 8
    }

    /// A number in `0..<bound` (bound > 0) from one or two bytes.
    public mutating func below(_ bound: Int) -> Int {
        bound <= 256 ? Int(byte()) % bound : uint16() % bound
    }

    /// A boolean from one byte.
    public mutating func flag() -> Bool { byte() & 1 == 1 }

    /// Up to `count` bytes (fewer at the end).
    public mutating func take(_ count: Int) -> [UInt8] {
        let n = min(count, remaining)
        defer { position += n }
        return Array(bytes[position..<position + n])
    }

    /// Everything not consumed yet.
    public mutating func rest() -> [UInt8] { take(remaining) }
}
