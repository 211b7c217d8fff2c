import Foundation
import StrataMessageCore
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
    let window: StoreLock<QueueWindow>
    /// Store-wide use counter at the last operation, for LRU eviction.
    let lastUse = Atomic<UInt64>(0)
    /// Long-polling receivers waiting for an add to land.
    let arrivals = ArrivalSignal()

    init(name: String, persistedHead: [UInt8]?, recentCapacity: Int) {
        self.name = name
        prefix = MessageCodec.queuePrefix(name)
        end = MessageCodec.queueEnd(name)
        let floor = persistedHead ?? prefix
        window = StoreLock(QueueWindow(floor: floor, floorMs: persistedHead.map { Self.milliseconds(of: $0, prefixCount: MessageCodec.queuePrefix(name).count) } ?? .min,
                                    recentCapacity: recentCapacity))
    }

    /// The time component of a queue key or of a successor of one.
    static func milliseconds(of key: [UInt8], prefixCount: Int) -> Int64 {
        guard key.count >= prefixCount + 8 else { return .min }
        return Int64(bitPattern: MessageCodec.readBigEndian(key[prefixCount..<(prefixCount + 8)]) &- (1 << 63))
    }
}
