import Foundation

/// Shows bytes as text when they are printable UTF-8, else as hex.
func display(_ bytes: [UInt8]) -> String {
    if let s = String(validating: bytes, as: UTF8.self), s.unicodeScalars.allSatisfy({ $0.value >= 32 && $0.value != 127 }) {
        return s
    }
    return "0x" + bytes.map { String(format: "%02x", $0) }.joined()
}

/// A byte count for people: 1.2 MiB.
func humanBytes(_ n: UInt64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"]
    var v = Double(n), i = 0
    while v >= 1024 && i < units.count - 1 { v /= 1024; i += 1 }
    return i == 0 ? "\(n) B" : String(format: "%.1f %@", v, units[i])
}

/// Reads one line from stdin and tells whether it is exactly "yes".
func confirmed(_ prompt: String) -> Bool {
    FileHandle.standardError.write(Data("\(prompt) type 'yes' to go on: ".utf8))
    return readLine()?.trimmingCharacters(in: .whitespaces) == "yes"
}
