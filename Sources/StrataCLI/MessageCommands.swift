import Foundation
import Strata
import StrataMessageStore
import StrataSQLite

/// `strata export|import|purge|queues --db=PATH [--backend=lsm|sqlite]`:
/// operations on a message store. The backend defaults to `sqlite` when
/// PATH is a file (or ends in .sqlite/.db) and to the LSM store otherwise.
func runMessageCommand(_ command: String, _ args: [String]) async {
    let flags = parseFlags(args, allowed: ["db", "backend", "to", "from", "replace", "queue", "yes"])
    guard let path = flags["db"] else { fail("--db=PATH is required", code: 2) }
    do {
        let store = try await openMessageStore(path, backend: flags["backend"], create: command == "import")
        switch command {
        case "export":
            guard let to = flags["to"] else { fail("--to=FILE is required", code: 2) }
            let n = try await MessageExport.export(store, to: to)
            print("exported \(n) messages to \(to)")
        case "import":
            guard let from = flags["from"] else { fail("--from=FILE is required", code: 2) }
            let s = try await MessageExport.importFile(from, into: store, replace: flags["replace"] == "true")
            print("imported \(s.entities) entities and \(s.messages) messages; \(s.duplicates) duplicates skipped")
        case "purge":
            guard let queue = flags["queue"] else { fail("--queue=NAME is required", code: 2) }
            if flags["yes"] != "true" {
                let n = try await store.statistics(queue: queue)
                FileHandle.standardError.write(Data("purge \(n.active + n.locked + n.scheduled) messages of queue \(queue)? type 'yes': ".utf8))
                guard readLine()?.trimmingCharacters(in: .whitespaces) == "yes" else { fail("purge cancelled") }
            }
            print("purged \(try await store.purge(queue: queue)) messages from \(queue)")
        case "queues":
            for q in try await store.queues() {
                let s = try await store.statistics(queue: q.name)
                let age = s.oldestAge.map { "\($0.components.seconds) s" } ?? "-"
                print("\(q.name): active \(s.active), scheduled \(s.scheduled), locked \(s.locked), dead-lettered \(s.deadLettered), \(s.bytes) bytes, oldest \(age)")
            }
            for t in try await store.topics() {
                for sub in try await store.subscriptions(topic: t) {
                    let s = try await store.statistics(queue: sub.queue)
                    print("\(sub.queue): active \(s.active), scheduled \(s.scheduled), locked \(s.locked), dead-lettered \(s.deadLettered)")
                }
            }
        default:
            fail("unknown command '\(command)'", code: 2)
        }
        try await store.close()
    } catch {
        fail("\(command) failed: \(error)")
    }
}

private func openMessageStore(_ path: String, backend: String?, create: Bool) async throws -> any MessageStore {
    var isDirectory: ObjCBool = false
    let exists = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
    let kind = backend ?? ((exists && !isDirectory.boolValue) || path.hasSuffix(".sqlite") || path.hasSuffix(".db") ? "sqlite" : "lsm")
    if !exists && !create { throw MessageStoreError(.notFound, "no message store at \(path)") }
    switch kind {
    case "lsm":
        var o = MessageStoreOptions()
        o.logger.logLevel = .warning
        o.engine.logger.logLevel = .warning
        o.engine.createIfMissing = create
        return try await LSMMessageStore.open(at: path, options: o)
    case "sqlite":
        return try SQLiteMessageStore(path: path)
    default:
        throw MessageStoreError(.invalidArgument, "--backend must be lsm or sqlite, got \(kind)")
    }
}
