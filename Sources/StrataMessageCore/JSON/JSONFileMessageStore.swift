import Dispatch
import Foundation
import Logging

/// The message store in human-readable JSON files, for development and
/// debugging (seeds 003 and 004): `entities/queues.json`, `topics.json`,
/// `subscriptions.json`, one `messages/queue_<name>_<hash>.json` per queue
/// and `state.json` (sequence, duplicate windows). Everything is held in
/// memory; a change rewrites the files it touches as one atomic change
/// (`JSONFileSet`), either before the call returns (`saveInterval` nil) or
/// debounced. Each file keeps `backupCount` rotations and a checksum; a
/// corrupted file is read from its newest good rotation. The broker's
/// decisions are `BrokerPolicy`'s; this type only keeps and saves state.
public final class JSONFileMessageStore: MessageStore {
    /// Settings of the JSON backend.
    public struct Options: Sendable {
        /// nil: every change is saved (fsynced) before its call returns.
        /// A duration: changes are saved together at most this long after
        /// the first of them (a crash loses at most that much).
        public var saveInterval: Duration?
        /// Earlier copies kept of each file (`name.json.1` is the newest).
        public var backupCount: Int = 5
        /// Indent the files.
        public var prettyPrint: Bool = true
        /// Where the store reads the time.
        public var clock: MessageClock = .system
        /// Logs recoveries and failed saves.
        public var logger: Logger = Logger(label: "strata.json-store")
        /// Open for reading only (a tool looking at a store a broker
        /// writes): no directory is created, an interrupted save is neither
        /// finished nor discarded (its files belong to the writer), and
        /// every change throws `.readOnly`. The store is read as of the
        /// open; open it again to see later saves.
        public var readOnly = false
        /// The system calls the files go through (tests inject faults here).
        package var fileCalls: JSONFileCalls = .system
        /// Saves on every change, five rotations, indented.
        public init() {}
    }

    /// A stored message with its place in the queue and its lock.
    struct Entry {
        var message: Message
        var sequence: Int64
        var visibleAt: Int64
        var lock: (id: UUID, until: Int64)?
        var position: OrderPosition { OrderPosition(visibleAt, sequence) }
    }

    struct State {
        var catalog = EntityCatalog()
        /// Queue → entries in (visibleAt, sequence) order.
        var queues: [String: [Entry]] = [:]
        /// Message id → queue.
        var index: [String: String] = [:]
        var removedIds: [String: Int64] = [:]
        var next: Int64 = 0
        var closed = false
        var dirtyQueues: Set<String> = []
        var dirtyEntities = false
        var dirtyState = false
        var saveScheduled = false
        /// Bumped when a failed save put the files' contents back into
        /// memory: saves queued before that hold changes that are gone.
        var generation: UInt64 = 0
        /// The last save failure, for the saves that were queued behind it.
        var lastFailure: MessageStoreError?
        /// Set when a failed save could not even be undone (the files could
        /// not be read back): every write is then `.readOnly` until reopen.
        var broken: MessageStoreError?
        /// Queues that got a deliverable message under the current lock
        /// (their long polls are woken after it is released).
        var arrived: ArrivalCounts = []
    }

    let state = StoreLock(State())
    /// Wakes long polls on arrivals (JSONFileMessageStore+Operations.swift).
    let arrivals = QueueSignals()
    let options: Options
    let files: JSONFileSet
    let directory: String
    /// Boundaries of served pages (JSONFileMessageStore+Paging.swift).
    let cursors = PageCursors<OrderPosition>()
    /// Named snapshots' directory and retention (JSONFileMessageStore+Snapshots.swift).
    let snapshotSettings: SnapshotSettings
    /// Every file operation runs here, in the order changes were made.
    private let saveQueue = DispatchQueue(label: "strata.json-store.save")
    var clock: MessageClock { options.clock }

    /// Opens (creating if needed) the store in `directory`.
    public init(directory: String, options: Options = Options()) throws {
        guard !directory.isEmpty else { throw MessageStoreError(.invalidArgument, "the JSON store needs a directory") }
        self.directory = directory
        self.options = options
        var d = directory
        while d.hasSuffix("/") && d.count > 1 { d.removeLast() }
        snapshotSettings = SnapshotSettings(defaultDirectory: d + ".snapshots")
        files = JSONFileSet(directory: directory, backupCount: max(0, options.backupCount), logger: options.logger,
                            calls: options.fileCalls)
        let loaded: State
        if options.readOnly {
            loaded = try Self.loadWhileWritten(files)
        } else {
            try files.prepare()
            loaded = try Self.load(files)
        }
        state.withLock { $0 = loaded }
    }

    private static func decode<T: Decodable>(_ type: T.Type, _ rel: String, _ files: JSONFileSet) throws -> T? {
        guard let bytes = try files.read(rel) else { return nil }
        do { return try JSONDecoder().decode(T.self, from: Data(bytes)) } catch {
            throw MessageStoreError(.corruption, "\(files.directory)/\(rel): checksum good but content undecodable: \(error)")
        }
    }

    /// `load` for a read-only open, while another process may be saving: a
    /// save installs its files one by one under a `commit.json`, so the load
    /// starts only when there is none, and starts over when one appeared
    /// meanwhile (for up to about a second; then it reads what is there).
    /// A whole save that begins and ends inside one load can still go
    /// unnoticed: the JSON backend is for development, and this view is a
    /// best effort, not the LSM store's consistent read-only open.
    private static func loadWhileWritten(_ files: JSONFileSet) throws -> State {
        guard FileManager.default.fileExists(atPath: files.directory) else {
            throw MessageStoreError(.notFound, "no JSON store at \(files.directory)")
        }
        let marker = files.directory + "/commit.json"
        for _ in 0..<100 {
            if !FileManager.default.fileExists(atPath: marker) {
                // A file renamed away under the load reads as missing or torn: try again.
                if let s = try? load(files), !FileManager.default.fileExists(atPath: marker) { return s }
            }
            usleep(10_000)
        }
        return try load(files)
    }

    private static func load(_ files: JSONFileSet) throws -> State {
        var s = State()
        for q in try decode([JSONRecords.QueueEntity].self, "entities/queues.json", files) ?? [] { s.catalog.queues[q.name] = q.settings }
        for t in try decode([String].self, "entities/topics.json", files) ?? [] { s.catalog.topics[t] = [:] }
        for sub in try decode([JSONRecords.SubscriptionEntity].self, "entities/subscriptions.json", files) ?? [] {
            s.catalog.topics[sub.topic, default: [:]][sub.name] = EntityCatalog.Subscription(settings: sub.settings, filter: sub.filter)
        }
        if let st = try decode(JSONRecords.State.self, "state.json", files) {
            s.next = st.nextSequence
            s.removedIds = st.removedIds
        }
        for rel in try files.messageFiles() {
            guard let f = try decode(JSONRecords.QueueFile.self, rel, files) else { continue }
            guard rel == JSONFileSet.fileName(ofQueue: f.queue), s.queues[f.queue] == nil else {
                throw MessageStoreError(.corruption, "\(files.directory)/\(rel) holds queue \(f.queue), which belongs in another file")
            }
            let entries = try f.messages.map { try $0.entry(queue: f.queue) }.sorted { $0.position < $1.position }
            for e in entries {
                guard s.index.updateValue(f.queue, forKey: e.message.id) == nil else {
                    throw MessageStoreError(.corruption, "\(files.directory): message id \(e.message.id) is stored twice")
                }
                s.next = max(s.next, e.sequence + 1)
            }
            if !entries.isEmpty { s.queues[f.queue] = entries }
        }
        return s
    }

    // MARK: Saving

    /// Runs `body` on the state, then saves what it marked dirty: before
    /// returning (no `saveInterval`) or debounced.
    func change<T>(_ body: (inout State) throws -> T) async throws -> T {
        var arrived: ArrivalCounts = []
        let (result, ticket) = try state.withLock { s -> (T, SaveTicket?) in
            if s.closed { throw MessageStoreError(.closed, "store at \(directory) is closed") }
            if options.readOnly { throw MessageStoreError(.readOnly, "store at \(directory) is open read-only") }
            if let b = s.broken {
                throw MessageStoreError(.readOnly, "store at \(directory) stopped writing after a save failed and could not be undone (\(b.message)): reopen it",
                                        underlying: b)
            }
            let r: T
            do { r = try body(&s) } catch {
                s.arrived = []
                throw error
            }
            arrived = s.arrived
            s.arrived = []
            if options.saveInterval == nil { return (r, enqueue(takeChange(&s), generation: s.generation)) }
            if !s.saveScheduled && (s.dirtyEntities || s.dirtyState || !s.dirtyQueues.isEmpty) {
                s.saveScheduled = true
                scheduleSave()
            }
            return (r, nil)
        }
        if !arrived.isEmpty { arrivals.wake(arrived) }
        try await ticket?.wait()
        return result
    }

    /// Reads the state (no save).
    func read<T>(_ body: (State) throws -> T) throws -> T {
        try state.withLock { s in
            if s.closed { throw MessageStoreError(.closed, "store at \(directory) is closed") }
            return try body(s)
        }
    }

    private func scheduleSave(after delay: Duration? = nil) {
        let interval = delay ?? options.saveInterval ?? .zero
        Task { [weak self] in
            try? await Task.sleep(for: interval)
            guard let self else { return }
            do { try await self.flush() } catch {
                self.options.logger.error("json store: save failed", metadata: ["directory": "\(self.directory)", "error": "\(error)"])
            }
        }
    }

    /// Saves every pending change now.
    public func flush() async throws {
        let ticket = state.withLock { s -> SaveTicket in
            s.saveScheduled = false
            return enqueue(takeChange(&s), generation: s.generation)
        }
        try await ticket.wait()
    }

    /// The files of everything marked dirty (clearing the marks); called
    /// under the state lock, so changes are queued in the order they happened.
    private func takeChange(_ s: inout State) -> JSONFileSet.Change {
        var change = JSONFileSet.Change(queues: s.dirtyQueues, entities: s.dirtyEntities, state: s.dirtyState)
        let encoder = JSONEncoder()
        encoder.outputFormatting = options.prettyPrint ? [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        func put<T: Encodable>(_ rel: String, _ value: T) {
            // Encoding plain strings, numbers and dictionaries cannot fail.
            change.writes[rel] = (try? encoder.encode(value)).map(Array.init) ?? []
        }
        if s.dirtyEntities {
            put("entities/queues.json", s.catalog.queues.sorted { $0.key < $1.key }.map { JSONRecords.QueueEntity(name: $0.key, settings: $0.value) })
            put("entities/topics.json", s.catalog.topics.keys.sorted())
            put("entities/subscriptions.json", s.catalog.topics.sorted { $0.key < $1.key }.flatMap { t in
                t.value.sorted { $0.key < $1.key }.map {
                    JSONRecords.SubscriptionEntity(topic: t.key, name: $0.key, settings: $0.value.settings, filter: $0.value.filter)
                }
            })
        }
        if s.dirtyState || !s.dirtyQueues.isEmpty {
            put("state.json", JSONRecords.State(nextSequence: s.next, removedIds: s.removedIds))
        }
        for q in s.dirtyQueues {
            let rel = JSONFileSet.fileName(ofQueue: q)
            if let entries = s.queues[q], !entries.isEmpty {
                put(rel, JSONRecords.QueueFile(queue: q, messages: entries.map(JSONRecords.StoredMessage.init)))
            } else {
                change.removals.insert(rel)
            }
        }
        s.dirtyQueues = []
        s.dirtyEntities = false
        s.dirtyState = false
        return change
    }

    /// Queues `change` on the save queue. Called under the state lock, so
    /// saves reach the disk in the order their changes were made (a later
    /// save of a file never lands before an earlier one).
    private func enqueue(_ change: JSONFileSet.Change, generation: UInt64) -> SaveTicket {
        onSaveQueue { files in try self.save(change, generation: generation, files) }
    }

    /// Writes one change (on the save queue). A failure never leaves the
    /// memory ahead of the files unnoticed: saving on every change, the
    /// files are read back into memory (their last committed contents: the
    /// failed call's change is gone, unless it had committed, and so is
    /// every change queued behind it, whose calls fail too); debounced, the
    /// change stays in memory, marked unsaved, and the save is retried.
    private func save(_ change: JSONFileSet.Change, generation: UInt64, _ files: JSONFileSet) throws {
        if change.isEmpty { return }
        let stale = state.withLock { s -> MessageStoreError?? in s.generation != generation ? .some(s.lastFailure) : .none }
        if let stale {
            let earlier = stale ?? MessageStoreError(.ioError, "an earlier save failed")
            throw MessageStoreError(earlier.kind, "not saved: an earlier save failed (\(earlier.message))", underlying: earlier)
        }
        do {
            try files.commit(change)
            state.withLock { $0.lastFailure = nil }
        } catch let f as JSONFileSet.CommitFailure {
            options.logger.error("json store: save failed", metadata: ["directory": "\(directory)", "error": "\(f.error)"])
            if let interval = options.saveInterval {
                let retry = state.withLock { s -> Bool in
                    s.dirtyQueues.formUnion(change.queues)
                    s.dirtyEntities = s.dirtyEntities || change.entities
                    s.dirtyState = s.dirtyState || change.state
                    s.lastFailure = f.error
                    defer { s.saveScheduled = true }
                    return !s.saveScheduled && !s.closed
                }
                if retry { scheduleSave(after: max(interval, .seconds(1))) }
                throw f.error
            }
            do {
                try files.prepare()  // finishes the change if it had committed, else discards its files
                let onDisk = try Self.load(files)
                state.withLock { s in
                    var r = onDisk
                    r.closed = s.closed
                    r.generation = s.generation + 1
                    r.lastFailure = f.error
                    s = r
                }
            } catch {
                state.withLock { s in
                    s.generation += 1
                    s.lastFailure = f.error
                    s.broken = f.error
                }
                options.logger.critical("json store: a failed save could not be undone; writes stop until reopen",
                                        metadata: ["directory": "\(directory)", "error": "\(error)"])
                throw f.error
            }
            if !f.committed { throw f.error }
        }
    }

    /// Runs `body` on the save queue, after every save queued before it.
    func onSaveQueue(_ body: @escaping @Sendable (JSONFileSet) throws -> Void) -> SaveTicket {
        let ticket = SaveTicket()
        let files = self.files
        saveQueue.async { ticket.finish(Result { try body(files) }) }
        return ticket
    }

    // MARK: State helpers (called under the state lock)

    static func insertSorted(_ e: Entry, into s: inout State) {
        let q = e.message.queue
        var lo = 0, hi = s.queues[q]?.count ?? 0
        while lo < hi {
            let mid = (lo + hi) / 2
            if s.queues[q]![mid].position < e.position { lo = mid + 1 } else { hi = mid }
        }
        s.queues[q, default: []].insert(e, at: lo)  // in place: no copy of the queue
        s.index[e.message.id] = e.message.queue
        s.dirtyQueues.insert(e.message.queue)
        s.arrived.insert(e.message.queue)
    }

    /// Where message `id` is: its queue and index there.
    static func locate(_ id: String, in s: State) -> (queue: String, index: Int)? {
        guard let q = s.index[id], let i = s.queues[q]?.firstIndex(where: { $0.message.id == id }) else { return nil }
        return (q, i)
    }

    @discardableResult
    static func take(_ id: String, from s: inout State) -> Entry? {
        guard let (q, i) = locate(id, in: s) else { return nil }
        let e = s.queues[q]!.remove(at: i)
        if s.queues[q]!.isEmpty { s.queues[q] = nil }
        s.index[id] = nil
        s.dirtyQueues.insert(q)
        return e
    }

    /// Removes an acknowledged message, leaving a duplicate-window marker.
    static func acknowledge(_ id: String, in s: inout State, now: Date) {
        guard let e = take(id, from: &s) else { return }
        if let end = BrokerPolicy.duplicateWindowEnd(e.message, s.catalog.settings(of: e.message.queue), now: now) {
            s.removedIds[id] = end.millisecondsSince1970
            s.dirtyState = true
        }
    }

    static func moveToDeadLetter(_ id: String, reason: String, in s: inout State, now: Date) {
        guard let e = take(id, from: &s) else { return }
        let moved = Entry(message: BrokerPolicy.deadLettered(e.message, reason: reason), sequence: s.next,
                          visibleAt: now.millisecondsSince1970, lock: nil)
        s.next += 1
        insertSorted(moved, into: &s)
    }

    static func insert(_ messages: [Message], into s: inout State, now: Date) throws {
        var seen = Set<String>()
        let nowMs = now.millisecondsSince1970
        for m in messages {
            try InMemoryMessageStore.validate(m)
            try s.catalog.validateAddTarget(m.queue)
            if s.index[m.id] != nil || !seen.insert(m.id).inserted || (s.removedIds[m.id].map { $0 > nowMs } ?? false) {
                throw MessageStoreError(.duplicateId, "a message with id \(m.id) is already stored or inside its duplicate window")
            }
        }
        for m in messages {
            if s.catalog.needsImplicitRegistration(m.queue) {
                s.catalog.queues[m.queue] = QueueSettings()
                s.dirtyEntities = true
            }
            let admitted = try BrokerPolicy.admit(m, s.catalog.settings(of: m.queue))
            if s.removedIds.removeValue(forKey: m.id) != nil { s.dirtyState = true }
            insertSorted(Entry(message: admitted, sequence: s.next, visibleAt: BrokerPolicy.visibleAt(admitted), lock: nil), into: &s)
            s.next += 1
        }
    }

    /// The entry `token` holds a live lock on, or `.lockLost`.
    static func held(_ token: LockToken, in s: State, now: Date) throws -> (String, Int) {
        guard let (q, i) = locate(token.messageID, in: s), q == token.queue, let l = s.queues[q]![i].lock,
              l.id == token.id, l.until > now.millisecondsSince1970 else {
            throw MessageStoreError(.lockLost, "\(token) is not held (expired, released, settled or never issued)")
        }
        return (q, i)
    }
}

/// The outcome of one job on the save queue, awaited by the call that queued it.
final class SaveTicket: Sendable {
    private struct State {
        var result: Result<Void, any Error>?
        var waiter: CheckedContinuation<Void, any Error>?
    }
    private let state = StoreLock(State())

    func finish(_ result: Result<Void, any Error>) {
        let waiter = state.withLock { s -> CheckedContinuation<Void, any Error>? in
            s.result = result
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?.resume(with: result)
    }

    /// Suspends (never blocks a thread) until the job has run.
    func wait() async throws {
        try await withCheckedThrowingContinuation { (k: CheckedContinuation<Void, any Error>) in
            let done = state.withLock { s -> Result<Void, any Error>? in
                if let r = s.result { return r }
                s.waiter = k
                return nil
            }
            if let done { k.resume(with: done) }
        }
    }
}
