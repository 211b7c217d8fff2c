import Foundation
import Synchronization

/// One queue's live state in the LSM store: its key range and its window.
/// Every decision about the queue's messages (who gets a lock, what the
/// head is) is made under `window`'s mutex; engine writes happen outside it.
final class QueueRuntime: Sendable {
    let name: String
    /// `MessageCodec.queuePrefix(name)`: below every key of the queue.
    let prefix: [UInt8]
    /// Above every key of the queue.
    let end: [UInt8]
    let window: Mutex<QueueWindow>
    /// Store-wide use counter at the last operation, for LRU eviction.
    let lastUse = Atomic<UInt64>(0)
    /// Long-polling receivers waiting for an add to land.
    let arrivals = ArrivalSignal()

    init(name: String, persistedHead: [UInt8]?, recentCapacity: Int) {
        self.name = name
        prefix = MessageCodec.queuePrefix(name)
        end = MessageCodec.queueEnd(name)
        let floor = persistedHead ?? prefix
        window = Mutex(QueueWindow(floor: floor, floorMs: persistedHead.map { Self.milliseconds(of: $0, prefixCount: MessageCodec.queuePrefix(name).count) } ?? .min,
                                    recentCapacity: recentCapacity))
    }

    /// The time component of a queue key or of a successor of one.
    static func milliseconds(of key: [UInt8], prefixCount: Int) -> Int64 {
        guard key.count >= prefixCount + 8 else { return .min }
        return Int64(bitPattern: MessageCodec.readBigEndian(key[prefixCount..<(prefixCount + 8)]) &- (1 << 63))
    }
}

/// Wakes long-polling receivers when a message lands in a queue. Each
/// waiter is resumed exactly once: by `signal()` or by its own timeout,
/// whichever comes first (a signal or timeout that arrives before the
/// waiter has parked is remembered in its slot).
final class ArrivalSignal: Sendable {
    private enum Slot {
        case starting
        case parked(CheckedContinuation<Void, Never>)
        case fired
    }
    private struct State {
        var next: UInt64 = 0
        var slots: [UInt64: Slot] = [:]
    }
    private let state = Mutex(State())
    /// Number of slots; lets `signal()` skip the lock when nobody waits.
    private let waiting = Atomic<Int>(0)

    /// Suspends until the next `signal()` or until `timeout` passes.
    func wait(timeout: Duration) async {
        let id = state.withLock { s -> UInt64 in
            s.next += 1
            s.slots[s.next] = .starting
            return s.next
        }
        waiting.add(1, ordering: .relaxed)
        let timer = Task {
            do { try await Task.sleep(for: timeout) } catch { return }
            self.fire(id)
        }
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let resumeNow = state.withLock { s -> Bool in
                if case .fired = s.slots[id] {
                    s.slots[id] = nil
                    return true
                }
                s.slots[id] = .parked(c)
                return false
            }
            if resumeNow { c.resume() }
        }
        waiting.add(-1, ordering: .relaxed)
        timer.cancel()
    }

    private func fire(_ id: UInt64) {
        let c = state.withLock { s -> CheckedContinuation<Void, Never>? in
            switch s.slots[id] {
            case .parked(let c):
                s.slots[id] = nil
                return c
            case .starting:
                s.slots[id] = .fired
                return nil
            case .fired, nil:
                return nil
            }
        }
        c?.resume()
    }

    /// Wakes every waiter.
    func signal() {
        guard waiting.load(ordering: .relaxed) > 0 else { return }
        let parked = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            var out: [CheckedContinuation<Void, Never>] = []
            for (id, slot) in s.slots {
                switch slot {
                case .parked(let c):
                    out.append(c)
                    s.slots[id] = nil
                case .starting:
                    s.slots[id] = .fired
                case .fired:
                    break
                }
            }
            return out
        }
        for c in parked { c.resume() }
    }
}
