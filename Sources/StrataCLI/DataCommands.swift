import Foundation
import Strata

/// Parses `--name=value` flags into a dictionary, failing on anything else.
func parseFlags(_ args: [String], allowed: Set<String>) -> [String: String] {
    var out: [String: String] = [:]
    for a in args {
        guard a.hasPrefix("--") else { fail("unexpected argument '\(a)'", code: 2) }
        let body = a.dropFirst(2)
        let parts = body.split(separator: "=", maxSplits: 1).map(String.init)
        guard allowed.contains(parts[0]) else { fail("unknown flag --\(parts[0])", code: 2) }
        out[parts[0]] = parts.count > 1 ? parts[1] : "true"
    }
    return out
}

func openExisting(_ flags: [String: String]) -> Database {
    guard let path = flags["db"] else { fail("--db=PATH is required", code: 2) }
    var o = Options()
    o.createIfMissing = false
    // A command prints its own result; routine engine logs would drown it.
    o.logger.logLevel = .warning
    do {
        return try Database.open(at: path, options: o)
    } catch {
        fail("cannot open \(path): \(error)")
    }
}

/// Shows bytes as text when printable UTF-8, else as hex.
func display(_ bytes: [UInt8]) -> String {
    if let s = String(validating: bytes, as: UTF8.self), s.unicodeScalars.allSatisfy({ $0.value >= 32 && $0.value != 127 }) {
        return s
    }
    return "0x" + bytes.map { String(format: "%02x", $0) }.joined()
}

func runDataCommand(_ command: String, _ args: [String]) {
    let flags = parseFlags(args, allowed: ["db", "key", "value", "from", "to", "limit", "sync"])
    let db = openExisting(flags)
    defer { try? db.close() }
    do {
        switch command {
        case "get":
            guard let k = flags["key"] else { fail("--key is required", code: 2) }
            guard let v = try db.get(Array(k.utf8)) else { fail("key not found: \(k)") }
            print(display(v))
        case "put":
            guard let k = flags["key"], let v = flags["value"] else { fail("--key and --value are required", code: 2) }
            try db.put(Array(k.utf8), Array(v.utf8), options: WriteOptions(commitMode: .syncDurable))
        case "delete":
            guard let k = flags["key"] else { fail("--key is required", code: 2) }
            try db.delete(Array(k.utf8), options: WriteOptions(commitMode: .syncDurable))
        case "scan":
            let limit = flags["limit"].flatMap { Int($0) } ?? Int.max
            let it = try db.makeIterator(options: ReadOptions(lowerBound: flags["from"].map { Array($0.utf8) },
                                                              upperBound: flags["to"].map { Array($0.utf8) }))
            it.seekToFirst()
            var n = 0
            while it.isValid && n < limit {
                print("\(display(it.key)) => \(display(it.value))")
                n += 1
                it.next()
            }
            try it.checkStatus()
        case "stats":
            print(db.property("strata.stats") ?? "")
        default:
            fail("unknown command '\(command)'", code: 2)
        }
    } catch {
        fail("\(command) failed: \(error)")
    }
}
