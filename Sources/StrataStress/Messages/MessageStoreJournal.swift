import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One task's journal in the message-store crash loop: lines appended with
/// one `write(2)` each to a file of its own, so a SIGKILL keeps every line
/// written before it (the kernel has them) and never a torn one in the
/// middle of the file (a torn last line is ignored). Line kinds, each
/// followed by space-separated message ids:
/// - `I` an add (single or batch) is about to be issued; `A` it returned.
/// - `R` a receive returned these (locked) messages.
/// - `C?` a complete of these tokens is about to be issued; `C` it returned;
///   `F` it failed (lock lost: the messages stay stored).
/// - `U?` / `U` an abandon is about to be issued / returned.
final class MessageStoreJournal: @unchecked Sendable {  // one task writes it
    private let fd: Int32

    init(path: String) {
        fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
    }

    deinit { if fd >= 0 { close(fd) } }

    func record(_ kind: String, _ ids: [String]) {
        let line = Array((kind + " " + ids.joined(separator: " ") + "\n").utf8)
        _ = line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    }
}

/// What the journals of one cycle say about each message id, counted so the
/// order in which concurrent tasks wrote their lines does not matter.
struct MessageStoreCycleLog {
    var intended: Set<String> = []
    var added: Set<String> = []
    /// Batches whose add never returned, for the all-or-nothing check.
    var unacknowledgedBatches: [[String]] = []
    var completeAttempts: [String: Int] = [:]
    var completeFailures: [String: Int] = [:]
    var completed: Set<String> = []
    var received: Set<String> = []
    /// Acknowledged abandons (messages, counted with repeats).
    var abandoned = 0

    /// Reads every journal file in `directory`.
    static func load(directory: String) -> MessageStoreCycleLog {
        var log = MessageStoreCycleLog()
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        for f in files {
            guard let text = try? String(contentsOfFile: directory + "/" + f, encoding: .utf8) else { continue }
            var pendingBatches: [String: [String]] = [:]  // first id → batch, while unacknowledged
            for line in text.split(separator: "\n", omittingEmptySubsequences: true) where text.hasSuffix("\n") || line != text.split(separator: "\n").last {
                let parts = line.split(separator: " ").map(String.init)
                guard let kind = parts.first else { continue }
                let ids = Array(parts.dropFirst())
                switch kind {
                case "I":
                    log.intended.formUnion(ids)
                    if let first = ids.first { pendingBatches[first] = ids }
                case "A":
                    log.added.formUnion(ids)
                    if let first = ids.first { pendingBatches[first] = nil }
                case "R": log.received.formUnion(ids)
                case "C?": for id in ids { log.completeAttempts[id, default: 0] += 1 }
                case "C": log.completed.formUnion(ids)
                case "F": for id in ids { log.completeFailures[id, default: 0] += 1 }
                case "U": log.abandoned += ids.count
                default: break
                }
            }
            log.unacknowledgedBatches += pendingBatches.values.filter { $0.count > 1 }
        }
        return log
    }

    /// A complete of `id` was issued this cycle and neither returned nor failed.
    func completeInFlight(_ id: String) -> Bool {
        !completed.contains(id) && completeAttempts[id, default: 0] > completeFailures[id, default: 0]
    }
}
