import Foundation
import StrataMessageStore
import StrataTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A real process crash on every durable event store: a child process
/// (`strata stress-events-child`) appends batches of 1 to 4 events to one
/// stream and journals each batch before and after its append; the test
/// kills it with SIGKILL after a random number of acknowledged appends,
/// reopens the store and checks the stream against the journal. Three
/// kills per case, each on a stream of its own in the same store, so a
/// store recovered from one kill is appended to and killed again.
// Serialized: each child appends flat out until it is killed, and nine at
// once starved the test process of both cores (every other suite then ran
// into its time limits and PostgreSQL connection waits).
@Suite(.serialized) struct EventStoreCrashTests {
    /// Backend × commit mode (PostgreSQL only with `STRATA_POSTGRES_URL`).
    static let cases: [CrashCase] = EventBackend.durable.flatMap { b in ["sync", "async", "memory"].map { CrashCase(backend: b, commit: $0) } }

    struct CrashCase: Sendable, CustomTestStringConvertible {
        let backend: EventBackend
        let commit: String
        var testDescription: String { "\(backend.rawValue)/\(commit)" }
        var mode: EventStoreOptions.CommitMode {
            commit == "sync" ? .syncDurable : commit == "async" ? .asyncDurable(groupWindow: .milliseconds(5)) : .memoryOnly
        }
        /// A process crash loses nothing acknowledged under `.syncDurable`
        /// and `.asyncDurable` on every backend (EventStoreOptions);
        /// `.memoryOnly` promises only a consistent prefix.
        var keepsAcknowledged: Bool { commit != "memory" }
    }

    /// What a child's journal says: the batches it issued (start, end) and
    /// the acknowledged ones (end → returned LSN), a torn last line ignored.
    struct Journal {
        var issued: [(start: Int, end: Int)] = []
        var acknowledged: [Int: Int64] = [:]
        var lastAcknowledged = 0

        init(path: String) {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return }
            var lines = text.split(separator: "\n", omittingEmptySubsequences: true)
            if !text.hasSuffix("\n"), !lines.isEmpty { lines.removeLast() }
            for line in lines {
                let p = line.split(separator: " ")
                guard p.count == 3, let a = Int(p[1]), let b = Int64(p[2]) else { continue }
                if p[0] == "B" { issued.append((a, Int(b))) }
                if p[0] == "A" {
                    acknowledged[a] = b
                    lastAcknowledged = max(lastAcknowledged, a)
                }
            }
        }
    }

    @Test(.enabled(if: StrataExecutable.path != nil, "the strata executable is not built"), arguments: cases)
    func aKilledAppenderLosesNothingAcknowledgedAndLeavesAPrefix(_ c: CrashCase) async throws {
        let seed = TestSeed.fresh("EventStoreCrashTests \(c.testDescription)")
        var rng = SeededRandom(seed: seed)
        let f = EventFixture(c.backend)
        defer { f.cleanup() }
        try FileManager.default.createDirectory(atPath: f.dir, withIntermediateDirectories: true)
        let location: String
        switch c.backend {
        case .lsm: location = f.dir + "/events"
        case .sqlite: location = f.dir + "/events.sqlite"
        default: location = try #require(EventBackend.postgresURL)
        }
        var survivors: [(stream: String, count: Int)] = []
        for cycle in 0..<3 {
            let stream = f.stream("c\(cycle)"), journalPath = f.dir + "/journal-\(cycle)"
            let killAfter = 5 + rng.below(60)
            try await runAndKill(c, location: location, stream: stream, journal: journalPath, acknowledgements: killAfter,
                                 extraMicroseconds: rng.below(3000))
            let journal = Journal(path: journalPath)
            let store = try await f.open(EventStoreOptions(commitMode: c.mode))
            let events = try await store.load(stream: stream, after: 0, limit: 10_000_000)
            let m = events.count
            let context = "seed \(seed), cycle \(cycle): \(m) stored, \(journal.lastAcknowledged) acknowledged"
            // A prefix of what was issued, in order, each event intact.
            #expect(events.map(\.idempotencyKey) == (0..<m).map { "\(stream)-\($0)" }, "\(context)")
            #expect(events.map(\.payload) == (0..<m).map { Array("p\($0)".utf8) }, "\(context)")
            #expect(zip(events, events.dropFirst()).allSatisfy { $0.lsn < $1.lsn }, "\(context)")
            // Batches are atomic: the prefix ends on a batch boundary.
            #expect(m == 0 || journal.issued.contains { $0.end == m }, "\(context): not a batch boundary")
            #expect(m <= (journal.issued.last?.end ?? 0), "\(context): more than was issued")
            if c.keepsAcknowledged { #expect(m >= journal.lastAcknowledged, "\(context): acknowledged events lost") }
            // An acknowledged batch's LSN is its last event's.
            for (end, lsn) in journal.acknowledged where end <= m { #expect(events[end - 1].lsn == lsn, "\(context)") }
            if m < (journal.issued.last?.end ?? 0) {
                #expect(try await store.lsn(forIdempotencyKey: "\(stream)-\(m)") == nil, "\(context)")
            }
            // Earlier cycles' survivors are still whole.
            for s in survivors { #expect(try await store.load(stream: s.stream, after: 0, limit: 10_000_000).count == s.count, "\(context)") }
            // The store goes on: a new append lands after everything stored.
            let next = try await store.append(Event(stream: stream, payload: [], idempotencyKey: f.key("after\(cycle)")))
            #expect(next > (events.last?.lsn ?? 0), "\(context)")
            try await store.close()
            survivors.append((stream, m + 1))
            print("EventStoreCrashTests \(c.testDescription) \(context)")
        }
    }

    /// Starts the child and SIGKILLs it once its journal shows
    /// `acknowledgements` returned appends, plus `extraMicroseconds`.
    private func runAndKill(_ c: CrashCase, location: String, stream: String, journal: String, acknowledgements: Int,
                            extraMicroseconds: Int) async throws {
        let child = Process()
        child.executableURL = URL(fileURLWithPath: try #require(StrataExecutable.path))
        child.arguments = ["stress-events-child", "--backend", c.backend.rawValue, "--store", location, "--commit", c.commit,
                           "--stream", stream, "--journal", journal]
        child.standardOutput = FileHandle.nullDevice
        try child.run()
        while child.isRunning && Journal(path: journal).acknowledged.count < acknowledgements {
            try await Task.sleep(for: .milliseconds(2))
        }
        try await Task.sleep(for: .microseconds(extraMicroseconds))
        let wasRunning = child.isRunning
        if wasRunning { kill(child.processIdentifier, SIGKILL) }
        try await offCooperativePool { child.waitUntilExit() }
        #expect(wasRunning && child.terminationReason == .uncaughtSignal, "the child ended before the kill (status \(child.terminationStatus))")
    }
}
