import ArgumentParser
import Foundation
import StrataMessageStore

/// `strata snapshot create|list|restore|delete`: named snapshots of a store
/// of any backend (the LSM store's are incremental BackupEngine backups).
struct SnapshotCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "snapshot", abstract: "Named snapshots of a message store, with the store's retention (--store URL).",
        subcommands: [Create.self, List.self, Restore.self, Delete.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Take a consistent named snapshot (default name: the UTC time).")
        @OptionGroup var location: StoreLocation
        @Option(help: "The snapshot's name (letters, digits, '-', '_', '.').") var name: String?
        @OptionGroup var progress: ProgressOptions

        func run() async throws {
            let name = self.name ?? Self.defaultName()
            let store = try await location.open()
            let bar = progress.reporter("snapshot \(name)", unit: "")
            let ticker = Task {
                while !Task.isCancelled {
                    bar.update(0, of: nil)
                    try? await Task.sleep(for: .milliseconds(200))
                }
            }
            let info: SnapshotInfo
            do {
                info = try await failing("snapshot create") { try await store.createSnapshot(name: name) }
            } catch {
                ticker.cancel()
                try? await store.close()
                throw error
            }
            ticker.cancel()
            bar.finish()
            try await failing("closing the store") { try await store.close() }
            print("created snapshot \(info.name): \(humanBytes(UInt64(max(0, info.bytes)))) (\(info.bytes) bytes)")
        }

        static func defaultName() -> String {
            let f = DateFormatter()
            f.locale = Locale(identifier: "en_US_POSIX")
            f.timeZone = TimeZone(identifier: "UTC")
            f.dateFormat = "yyyyMMdd-HHmmss"
            return f.string(from: Date())
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List snapshots, oldest first: name, time (UTC), size.")
        @OptionGroup var location: StoreLocation
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let store = try await location.open(readOnly: true)
            let all = try await failing("snapshot list") { try await store.snapshots() }
            try? await store.close()
            if json {
                let e = JSONEncoder()
                e.outputFormatting = [.sortedKeys, .prettyPrinted]
                e.dateEncodingStrategy = .iso8601
                print(String(decoding: try e.encode(all), as: UTF8.self))
                return
            }
            let f = ISO8601DateFormatter()
            for s in all { print("\(s.name)  \(f.string(from: s.date))  \(s.bytes) bytes") }
        }
    }

    struct Restore: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Replace the store's contents with a snapshot (verified first; stop the broker before).")
        @OptionGroup var location: StoreLocation
        @Option(help: "The snapshot to restore.") var name: String
        @OptionGroup var progress: ProgressOptions

        func run() async throws {
            let store = try await location.open()
            let bar = progress.reporter("restoring \(name)", unit: "")
            let ticker = Task {
                while !Task.isCancelled {
                    bar.update(0, of: nil)
                    try? await Task.sleep(for: .milliseconds(200))
                }
            }
            defer { ticker.cancel() }
            do {
                try await failing("snapshot restore") { try await store.restoreSnapshot(name: name) }
            } catch {
                try? await store.close()
                throw error
            }
            ticker.cancel()
            bar.finish()
            try await failing("closing the store") { try await store.close() }
            print("restored snapshot \(name)")
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a snapshot.")
        @OptionGroup var location: StoreLocation
        @Option(help: "The snapshot to delete.") var name: String

        func run() async throws {
            let store = try await location.open()
            do {
                try await failing("snapshot delete") { try await store.deleteSnapshot(name: name) }
            } catch {
                try? await store.close()
                throw error
            }
            try await failing("closing the store") { try await store.close() }
            print("deleted snapshot \(name)")
        }
    }
}
