import Foundation
import StrataMessageCore
import StrataMessageStore
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Failures injected into the JSON store's system calls (`JSONFileCalls`).
final class FileFaults: Sendable {
    enum Call: Sendable { case write, rename, read }
    private struct Fault {
        var call: Call
        var errno: Int32
        var when: @Sendable (String) -> Bool
        var once: Bool
    }
    private let faults = Locked2<[Fault]>([])

    /// The next matching `call`s fail with `code` (only the first if `once`);
    /// `when` sees the path (a rename's target, a read's file; writes: "").
    func arm(_ call: Call, _ code: Int32, once: Bool = false, when: @escaping @Sendable (String) -> Bool = { _ in true }) {
        faults.with { $0.append(Fault(call: call, errno: code, when: when, once: once)) }
    }
    func disarm() { faults.with { $0 = [] } }

    /// The errno a call of `call` on `path` fails with, if it fails.
    private func hit(_ call: Call, _ path: String) -> Int32? {
        faults.with { f in
            guard let i = f.firstIndex(where: { $0.call == call && $0.when(path) }) else { return nil }
            let code = f[i].errno
            if f[i].once { f.remove(at: i) }
            return code
        }
    }

    var calls: JSONFileCalls {
        var c = JSONFileCalls.system
        let real = JSONFileCalls.system
        c.write = { [self] fd, p, n in
            if let code = hit(.write, "") { errno = code; return -1 }
            return real.write(fd, p, n)
        }
        c.rename = { [self] from, to in
            if let code = hit(.rename, to) { errno = code; return -1 }
            return real.rename(from, to)
        }
        // Reads: the path is known at open; a failing file fails its open.
        c.open = { [self] path, flags, mode in
            if flags & O_ACCMODE == O_RDONLY, flags & O_DIRECTORY == 0, let code = hit(.read, path) { errno = code; return -1 }
            return real.open(path, flags, mode)
        }
        return c
    }
}

@Suite struct JSONFaultTests {
    func options(_ faults: FileFaults, saveInterval: Duration? = nil) -> JSONFileMessageStore.Options {
        var o = JSONFileMessageStore.Options()
        o.fileCalls = faults.calls
        o.saveInterval = saveInterval
        return o
    }

    func kind(_ body: () async throws -> Void) async -> MessageStoreError.Kind? {
        do { try await body() } catch let e as MessageStoreError { return e.kind } catch { return nil }
        return nil
    }

    func ids(_ store: JSONFileMessageStore, _ queue: String = "q") async throws -> [String] {
        try await store.pending(queue: queue, limit: 100).map(\.id)
    }

    @Test func aFullDiskFailsTheCallWithStorageFullAndTheStoreGoesOnOnceThereIsRoom() async throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let faults = FileFaults()
        let store = try JSONFileMessageStore(directory: dir, options: options(faults))
        for i in 0..<5 { try await store.add(Message(id: "a\(i)", queue: "q", payload: [UInt8(i)])) }
        faults.arm(.write, ENOSPC)
        #expect(await kind { try await store.add(Message(id: "b", queue: "q", payload: [])) } == .storageFull)
        // The failed add is not in memory either: what is read is what is on disk.
        #expect(try await store.get(id: "b") == nil)
        #expect(try await ids(store) == (0..<5).map { "a\($0)" })
        #expect(await kind { _ = try await store.receive(queue: "q", limit: 1, lockDuration: nil) } == .storageFull,
                "a receive whose lock could not be saved delivers nothing")
        #expect(try await store.statistics(queue: "q").locked == 0)
        faults.disarm()
        try await store.add(Message(id: "b", queue: "q", payload: []))  // not a duplicate: it was never stored
        try await store.close()
        let reopened = try JSONFileMessageStore(directory: dir)
        #expect(try await ids(reopened) == (0..<5).map { "a\($0)" } + ["b"])
        try await reopened.close()
    }

    @Test func aRenameRefusedBeforeTheCommitIsAnIOErrorAndChangesNothing() async throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let faults = FileFaults()
        let store = try JSONFileMessageStore(directory: dir, options: options(faults))
        try await store.add(Message(id: "a", queue: "q", payload: []))
        faults.arm(.rename, EIO) { $0.hasSuffix("/commit.json") }
        #expect(await kind { try await store.add(Message(id: "c", queue: "q", payload: [])) } == .ioError)
        #expect(try await ids(store) == ["a"])
        faults.disarm()
        try await store.close()
        let reopened = try JSONFileMessageStore(directory: dir)
        #expect(try await ids(reopened) == ["a"])
        let left = try FileManager.default.contentsOfDirectory(atPath: dir + "/messages").filter { $0.hasSuffix(".new") }
        #expect(left.isEmpty, "the failed save's files were discarded")
        try await reopened.close()
    }

    @Test func aRenameRefusedAfterTheCommitIsFinishedThenOrAtTheNextOpen() async throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let faults = FileFaults()
        let store = try JSONFileMessageStore(directory: dir, options: options(faults))
        try await store.add(Message(id: "a", queue: "q", payload: []))
        // Once: the store finishes the committed change itself and the call succeeds.
        faults.arm(.rename, EIO, once: true) { $0.contains("/messages/") && $0.hasSuffix(".json") }
        try await store.add(Message(id: "d", queue: "q", payload: []))
        #expect(try await ids(store) == ["a", "d"])
        // Always: the call fails, writes stop (the files cannot be put
        // straight), and the committed change is finished at the next open.
        faults.arm(.rename, EIO) { $0.contains("/messages/") && $0.hasSuffix(".json") }
        #expect(await kind { try await store.add(Message(id: "e", queue: "q", payload: [])) } == .ioError)
        #expect(await kind { try await store.add(Message(id: "f", queue: "q", payload: [])) } == .readOnly)
        #expect(try await store.health().status == .critical)
        try await store.close()
        faults.disarm()
        let reopened = try JSONFileMessageStore(directory: dir)
        #expect(try await ids(reopened) == ["a", "d", "e"], "the committed change is finished, the refused one never made")
        try await reopened.close()
    }

    @Test func aDebouncedSaveThatFailsKeepsItsChangesAndSavesThemLater() async throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let faults = FileFaults()
        // An hour: only flush() saves in this test.
        let store = try JSONFileMessageStore(directory: dir, options: options(faults, saveInterval: .seconds(3600)))
        try await store.add(Message(id: "x", queue: "q", payload: []))
        faults.arm(.write, ENOSPC)
        #expect(await kind { try await store.flush() } == .storageFull)
        #expect(try await store.health().status == .critical)
        try await store.add(Message(id: "y", queue: "q", payload: []))
        #expect(await kind { try await store.close() } == .storageFull, "close reports what it could not save")
        faults.disarm()
        try await store.close()
        let reopened = try JSONFileMessageStore(directory: dir)
        #expect(try await ids(reopened) == ["x", "y"])
        try await reopened.close()
    }

    @Test func aFileThatCannotBeReadIsAnIOErrorNotAnEmptyStore() async throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try JSONFileMessageStore(directory: dir)
        try await store.add(Message(id: "a", queue: "q", payload: []))
        try await store.close()
        let faults = FileFaults()
        faults.arm(.read, EIO) { $0.contains("/messages/queue_q_") }
        var failed: MessageStoreError.Kind?
        do { _ = try JSONFileMessageStore(directory: dir, options: options(faults)) } catch let e as MessageStoreError { failed = e.kind }
        #expect(failed == .ioError)
    }

    @Test func aCorruptedFileAndItsNewestRotationAreReadFromTheNextGoodOne() async throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try JSONFileMessageStore(directory: dir)
        for i in 0..<4 { try await store.add(Message(id: "m\(i)", queue: "q", payload: [UInt8(i)])) }
        try await store.close()
        let messages = dir + "/messages/"
        let main = messages + (try FileManager.default.contentsOfDirectory(atPath: messages).first { $0.hasSuffix(".json") }!)
        for path in [main, main + ".1"] {
            var bytes = try Array(Data(contentsOf: URL(fileURLWithPath: path)))
            bytes[bytes.count / 2] ^= 0x20
            try Data(bytes).write(to: URL(fileURLWithPath: path))
        }
        let recovered = try JSONFileMessageStore(directory: dir)
        #expect(try await ids(recovered) == ["m0", "m1"], "rotation 2 holds the state before the last two adds")
        try await recovered.close()
    }
}
