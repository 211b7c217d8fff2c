import Foundation
import StrataMessageCore
import Strata
import StrataMessageStore
import StrataPostgres
import StrataSQLite
import Testing

/// An event store whose stored records a test can read and damage.
protocol DamageableEventStore: EventStore {
    func storedRecord(stream: String, lsn: Int64) async throws -> [UInt8]?
    func replaceStoredRecord(stream: String, lsn: Int64, with record: [UInt8]) async throws
}

extension InMemoryEventStore: DamageableEventStore {}
extension LSMEventStore: DamageableEventStore {}
extension SQLiteEventStore: DamageableEventStore {}
extension PostgresEventStore: DamageableEventStore {}

/// The backends the event contract suite runs on; PostgreSQL when
/// `STRATA_POSTGRES_URL` names a server (`make test` starts one).
enum EventBackend: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case memory, lsm, sqlite, postgres

    static var postgresURL: String? { ProcessInfo.processInfo.environment["STRATA_POSTGRES_URL"] }
    static var all: [EventBackend] { postgresURL == nil ? [.memory, .lsm, .sqlite] : allCases }
    static var durable: [EventBackend] { all.filter { $0 != .memory } }

    var testDescription: String { rawValue }
}

/// One test's store location: a fresh directory, and a fresh namespace for
/// stream names and idempotency keys, so tests sharing one PostgreSQL
/// database never see each other's events (LSNs there are shared, so the
/// suite asserts LSN order and relations, not values).
struct EventFixture: Sendable {
    let backend: EventBackend
    let dir = temporaryDirectory()
    let ns = "t" + UUID().uuidString.prefix(8) + "-"

    init(_ backend: EventBackend) { self.backend = backend }

    /// A stream name of this test.
    func stream(_ name: String) -> String { ns + name }
    /// An idempotency key of this test.
    func key(_ name: String) -> String { ns + name }

    /// Opens (or, for durable backends, reopens) the store.
    func open(_ options: EventStoreOptions = EventStoreOptions()) async throws -> any DamageableEventStore {
        switch backend {
        case .memory: return InMemoryEventStore(options: options)
        case .lsm: return try await LSMEventStore.open(at: dir + "/events", options: options)
        case .sqlite:
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            return try SQLiteEventStore(path: dir + "/events.sqlite", options: options)
        case .postgres: return try await PostgresEventStore(url: EventBackend.postgresURL!, options: options)
        }
    }

    func cleanup() { try? FileManager.default.removeItem(atPath: dir) }
}

/// Collects values from concurrent tasks (a TSan-visible lock).
final class Collected<T: Sendable>: Sendable {
    private let values = StoreLock<[T]>([])
    func add(_ v: T) { values.withLock { $0.append(v) } }
    var all: [T] { values.withLock { $0 } }
}
