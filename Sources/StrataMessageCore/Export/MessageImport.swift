import Foundation

extension MessageExport {
    /// Reads a JSON Lines export into `store` (see the other overload).
    public static func importFile(_ path: String, into store: any MessageStore, replace: Bool) async throws -> ImportSummary {
        try await importFile(path, into: store, format: nil, replace: replace, progress: nil)
    }

    /// Reads an export (`format`, or the one its name implies) into `store`,
    /// streamed, calling `progress` as it goes.
    ///
    /// The whole file is checked first (a malformed record is `.corruption`
    /// naming its line, and nothing in the store has changed). Then:
    /// - `replace`: the store is made equal to the file — every queue and
    ///   topic (with their messages, dead letters and subscriptions) and
    ///   every duplicate-window marker is removed, then the file's entities,
    ///   messages and markers are written;
    /// - merge (default): entities are created or updated, messages whose id
    ///   is already stored (or inside a duplicate window) are skipped and
    ///   counted as duplicates, markers are added.
    /// Messages are added in batches of 500, in file order.
    public static func importFile(_ path: String, into store: any MessageStore, format: Format?, replace: Bool,
                                  progress: ProgressHandler? = nil) async throws -> ImportSummary {
        let format = format ?? .inferred(fromPath: path)
        // Pass 1: the whole file parses and every record is complete.
        let check = try ExportRecordReader(path: path, format: format)
        while let r = try check.next() {
            try Task.checkCancellation()
            _ = try Importable(r, at: check)
        }
        if replace { try await clear(store) }

        // Pass 2: write it.
        let reader = try ExportRecordReader(path: path, format: format)
        var summary = ImportSummary()
        var messages: [Message] = []
        var windows: [DuplicateWindowMarker] = []
        func flushMessages() async throws {
            guard !messages.isEmpty else { return }
            let added = try await addSkippingDuplicates(messages, to: store)
            summary.messages += added
            summary.duplicates += messages.count - added
            messages.removeAll(keepingCapacity: true)
            progress?(Progress(messages: summary.messages + summary.duplicates, expectedMessages: nil,
                               bytes: reader.bytesRead, totalBytes: reader.size))
        }
        func flushWindows() async throws {
            guard !windows.isEmpty else { return }
            try await flushMessages()
            guard let w = store as? any DuplicateWindowExport else {
                throw MessageStoreError(.invalidArgument, "\(path) holds duplicate-window markers and this store cannot record them")
            }
            try await w.recordDuplicateWindowMarkers(windows)
            summary.windows += windows.count
            windows.removeAll(keepingCapacity: true)
        }
        while let r = try reader.next() {
            try Task.checkCancellation()
            switch try Importable(r, at: reader) {
            case .queue(let name, let settings):
                try await store.createQueue(name, settings: settings)
                summary.entities += 1
            case .topic(let name, let subscriptions):
                try await store.createTopic(name)
                for s in subscriptions {
                    try await store.createSubscription(s.name, topic: name, settings: s.settings, filter: s.filter)
                }
                summary.entities += 1
            case .message(let m):
                messages.append(m)
                if messages.count >= pageSize { try await flushMessages() }
            case .window(let marker):
                windows.append(marker)
                if windows.count >= pageSize { try await flushWindows() }
            }
        }
        try await flushMessages()
        try await flushWindows()
        return summary
    }

    /// Removes every entity, message and duplicate-window marker.
    static func clear(_ store: any MessageStore) async throws {
        for t in try await store.topics() { try await store.deleteTopic(t) }
        for q in try await store.queues() {
            try await store.deleteQueue(q.name)
            do { _ = try await store.purge(queue: EntityPath.deadLetterQueue(of: q.name)) } catch let e as MessageStoreError where e.kind == .notFound {}
        }
        if let w = store as? any DuplicateWindowExport { try await w.clearDuplicateWindowMarkers() }
    }

    /// Adds `batch` as one batch; when one of its ids is a duplicate, one by
    /// one, skipping duplicates. Returns how many were added.
    static func addSkippingDuplicates(_ batch: [Message], to store: any MessageStore) async throws -> Int {
        do {
            try await store.add(contentsOf: batch)
            return batch.count
        } catch let e as MessageStoreError where e.kind == .duplicateId {
            var added = 0
            for m in batch {
                do {
                    try await store.add(m)
                    added += 1
                } catch let e as MessageStoreError where e.kind == .duplicateId {}
            }
            return added
        }
    }

    /// A checked record, ready to write.
    enum Importable {
        case queue(String, QueueSettings)
        case topic(String, [SubscriptionRecord])
        case message(Message)
        case window(DuplicateWindowMarker)

        init(_ r: Record, at reader: ExportRecordReader) throws {
            func need<T>(_ v: T?, _ field: String) throws -> T {
                guard let v else { throw MessageStoreError(.corruption, "\(reader.path) line \(reader.line): \(r.kind) without \(field)") }
                return v
            }
            switch r.kind {
            case "queue":
                self = .queue(try need(r.name, "name"), try need(r.settings, "settings"))
            case "topic":
                self = .topic(try need(r.name, "name"), r.subscriptions ?? [])
            case "message":
                guard let payload = Data(base64Encoded: try need(r.payload, "payload")) else {
                    throw MessageStoreError(.corruption, "\(reader.path) line \(reader.line): payload is not base64")
                }
                self = .message(Message(id: try need(r.id, "id"), queue: try need(r.queue, "queue"), payload: [UInt8](payload),
                                        timestamp: Date(timeIntervalSince1970: try need(r.timestamp, "timestamp")),
                                        headers: r.headers ?? [:], deliveryCount: r.deliveryCount ?? 0,
                                        scheduledAt: r.scheduledAt.map(Date.init(timeIntervalSince1970:)),
                                        expiresAt: r.expiresAt.map(Date.init(timeIntervalSince1970:))))
            case "window":
                self = .window(DuplicateWindowMarker(id: try need(r.id, "id"), until: Date(timeIntervalSince1970: try need(r.expiresAt, "expiresAt"))))
            default:
                throw MessageStoreError(.corruption, "\(reader.path) line \(reader.line): unknown kind '\(r.kind)'")
            }
        }
    }
}
