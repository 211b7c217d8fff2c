import FuzzSupport
@testable import Strata

// Fuzzes Block validation and BlockIterator (the cursor every table read
// goes through). Input byte 0: bit 0 picks the key order, bit 1 the shape:
// raw = the rest is the block's bytes (after its checksum passed, so
// nothing vouches for them); structured = the rest describes sorted entries
// built by BlockBuilder, which must iterate back exactly both ways and be
// found by seek, then one byte of the block is damaged and iterated again.

/// Generous bound on steps; more means an iterator that does not terminate.
let stepLimit = 100_000

/// The entries one iteration visited, and the error it ended with.
struct Walk {
    var entries: [([UInt8], [UInt8])] = []
    var error: StrataError?
}

func forward(_ it: BlockIterator) -> Walk {
    var w = Walk()
    it.seekToFirst()
    while it.isValid {
        w.entries.append((it.key.array, it.value.array))
        if w.entries.count > stepLimit { fuzzFailure("forward iteration does not end") }
        it.next()
    }
    w.error = it.status()
    return w
}

func backward(_ it: BlockIterator) -> Walk {
    var w = Walk()
    it.seekToLast()
    while it.isValid {
        w.entries.append((it.key.array, it.value.array))
        if w.entries.count > stepLimit { fuzzFailure("backward iteration does not end") }
        it.prev()
    }
    w.error = it.status()
    w.entries.reverse()
    return w
}

/// Everything a reader may do with a block of unknown bytes: it must not
/// trap, must end, and may fail only with corruption.
func exercise(_ bytes: [UInt8], _ order: BlockKeyOrder, targets: [[UInt8]]) -> Block? {
    let block: Block
    do {
        block = try Block.copying(bytes)
    } catch {
        expectRejection(error, "Block validation")
        return nil
    }
    for walk in [forward(BlockIterator(block: block, order: order)), backward(BlockIterator(block: block, order: order))] {
        if let e = walk.error { expectRejection(e, "BlockIterator") }
    }
    let it = BlockIterator(block: block, order: order)
    for t in targets {
        t.withUnsafeBytes { it.seek($0) }
        var steps = 0
        while it.isValid && steps < 3 { it.next(); steps += 1 }
        if it.isValid { it.prev() }
        if let e = it.status() { expectRejection(e, "BlockIterator.seek") }
    }
    return block
}

func key(_ input: inout FuzzInput, _ order: BlockKeyOrder) -> [UInt8] {
    var k = input.take(input.below(12))
    if order.isInternalKey {
        k += input.take(8)
        while k.count < 8 { k.append(0) }
    }
    return k
}

/// `order`'s comparison: internal keys by user key then sequence, plain keys byte-wise.
func compare(_ order: BlockKeyOrder, _ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Int {
    order.isInternalKey ? order.keyOrder.compareInternal(a, b) : order.keyOrder.compare(a, b)
}

func structured(_ input: inout FuzzInput, _ order: BlockKeyOrder) {
    let restartInterval = 1 + input.below(20)
    var keys: [[UInt8]] = []
    for _ in 0..<input.below(200) { keys.append(key(&input, order)) }
    keys.sort { a, b in a.withUnsafeBytes { pa in b.withUnsafeBytes { pb in compare(order, pa, pb) < 0 } } }
    var unique: [[UInt8]] = []
    for k in keys where unique.last.map({ l in l.withUnsafeBytes { a in k.withUnsafeBytes { compare(order, a, $0) != 0 } } }) ?? true {
        unique.append(k)
    }
    let entries = unique.enumerated().map { i, k in (k, [UInt8](repeating: UInt8(truncatingIfNeeded: i), count: i % 7)) }
    var builder = BlockBuilder(restartInterval: restartInterval)
    for (k, v) in entries { k.withUnsafeBytes { kp in v.withUnsafeBytes { builder.add(kp, $0) } } }
    builder.finish()
    var bytes = builder.buffer

    guard let block = exercise(bytes, order, targets: []) else { fuzzFailure("a block BlockBuilder wrote is rejected") }
    let same = { (w: Walk) in w.error == nil && w.entries.elementsEqual(entries, by: { $0.0 == $1.0 && $0.1 == $1.1 }) }
    guard same(forward(BlockIterator(block: block, order: order))) else { fuzzFailure("forward iteration differs from what was written") }
    guard same(backward(BlockIterator(block: block, order: order))) else { fuzzFailure("backward iteration differs from what was written") }
    let it = BlockIterator(block: block, order: order)
    for (i, (k, _)) in entries.enumerated() {
        k.withUnsafeBytes { it.seek($0) }
        guard it.isValid, it.key.array == k else { fuzzFailure("seek to entry \(i) of \(entries.count) missed it") }
        if i > 0 {
            it.prev()
            guard it.isValid, it.key.array == entries[i - 1].0 else { fuzzFailure("prev from entry \(i) missed entry \(i - 1)") }
        }
    }

    if !bytes.isEmpty {
        let at = input.uint16() % bytes.count
        let x = input.byte()
        bytes[at] ^= x == 0 ? 0x80 : x
        _ = exercise(bytes, order, targets: entries.prefix(8).map { $0.0 })
    }
}

runFuzzer(seeds: {
    var seeds: [[UInt8]] = []
    for (order, interval) in [(0, 1), (1, 16), (1, 3)] {
        var b = BlockBuilder(restartInterval: interval)
        for i in 0..<40 {
            let user = Array("user-key-\(1000 + i * 7)".utf8)
            let k = order == 0 ? makeInternalKey(user, UInt64(500 - i), .value) : user
            let v = Array(repeating: UInt8(i), count: i % 5)
            k.withUnsafeBytes { kp in v.withUnsafeBytes { b.add(kp, $0) } }
        }
        b.finish()
        seeds.append([UInt8(order)] + b.buffer)
    }
    seeds.append([2, 4, 30, 3, 1, 2, 3, 2, 4, 5, 0, 9, 1, 1, 1, 1, 1, 1, 1, 1, 1])
    seeds.append([3, 1, 10, 2, 97, 98, 2, 97, 99, 1, 100, 3, 97, 98, 99, 0x10, 0, 7])
    return seeds
}) { bytes in
    var input = FuzzInput(bytes)
    let mode = input.byte()
    let order: BlockKeyOrder = mode & 1 == 0 ? .bytewiseInternalKey : .bytewise
    if mode & 2 == 0 {
        let raw = input.rest()
        _ = exercise(raw, order, targets: [[], Array(raw.prefix(9)), Array(raw.suffix(12)), [UInt8](repeating: 0xff, count: 9)])
    } else {
        structured(&input, order)
    }
}
