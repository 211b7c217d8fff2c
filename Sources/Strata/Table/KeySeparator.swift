/// Short index keys: a separator between two adjacent blocks and a
/// successor after the last one, as internal keys.
///
/// When a shorter user key fits, it gets the largest trailer
/// (`maxSequenceNumber`, `.forSeek`), which makes it the smallest internal
/// key of that user key; it is then still strictly greater than every
/// internal key of a smaller user key, so the bounds hold.
enum KeySeparator {
    /// An internal key S with `start <= S < limit`, usually shorter than `start`.
    /// `start < limit` in internal-key order.
    static func shortestSeparator(_ start: UnsafeRawBufferPointer, _ limit: UnsafeRawBufferPointer) -> [UInt8] {
        let us = userKeyOf(start), ul = userKeyOf(limit)
        let n = min(us.count, ul.count)
        var i = 0
        while i < n && us[i] == ul[i] { i += 1 }
        if i < n {
            let b = us[i]
            // Bump the first differing byte when the result stays below `limit`
            // and is shorter than `start` (otherwise nothing is gained).
            if b < 0xff && b + 1 < ul[i] && i + 1 < us.count {
                var out = [UInt8](UnsafeRawBufferPointer(rebasing: us[0...i]))
                out[i] = b + 1
                out.appendFixed64(packTrailer(maxSequenceNumber, .forSeek))
                return out
            }
        }
        return start.array
    }

    /// An internal key S >= `key`, usually short: the user key cut after its
    /// first byte that can be incremented.
    static func shortSuccessor(_ key: UnsafeRawBufferPointer) -> [UInt8] {
        let uk = userKeyOf(key)
        for i in 0..<uk.count where uk[i] != 0xff {
            if i + 1 == uk.count { break }
            var out = [UInt8](UnsafeRawBufferPointer(rebasing: uk[0...i]))
            out[i] += 1
            out.appendFixed64(packTrailer(maxSequenceNumber, .forSeek))
            return out
        }
        return key.array
    }
}
