import Testing
@testable import Strata

/// The family set (`FamilySet`: what `mu` guards about the column families)
/// driven in one thread: membership in id order, the commit leader's
/// `ActiveMemtables` following every change, the memtable switch, the
/// flush hand-back and a read-only catch-up's swap. The engine calls these
/// same methods under `mu`.
@Suite struct FamilySetTests {
    static let identity = DatabaseIdentity()

    static func family(_ id: UInt32, writeBufferSize: Int = 64 << 20) -> ColumnFamilyState {
        var o = ColumnFamilyOptions()
        o.writeBufferSize = writeBufferSize
        return ColumnFamilyState(name: id == 0 ? "default" : "f\(id)", id: id, options: o, databaseOptions: Options(), owner: identity)
    }

    static func set(_ others: [ColumnFamilyState] = []) -> FamilySet {
        let s = FamilySet(defaultFamily: family(0), databaseOptions: Options())
        for f in others { s.add(f) }
        return s
    }

    static func put(_ m: Memtable, _ key: String, sequence: UInt64) {
        let k = utf8(key), v = utf8("value of \(key)")
        k.withUnsafeBytes { kb in v.withUnsafeBytes { m.add(sequence: sequence, kind: .value, key: kb, value: $0) } }
    }

    /// The leader's routing names exactly each member's active memtable.
    static func expectRoutingMatches(_ s: FamilySet, absent: [UInt32] = [], sourceLocation: SourceLocation = #_sourceLocation) {
        for m in s.members {
            #expect(s.activeMemtables.memtable(for: m.id) === m.mem, "family \(m.id) routed elsewhere", sourceLocation: sourceLocation)
        }
        for id in absent {
            #expect(s.activeMemtables.memtable(for: id) == nil, "family \(id) is not live but still routed", sourceLocation: sourceLocation)
        }
    }

    @Test func aNewFamilyStartsWithTheMemtableItsFirstSuperVersionShows() throws {
        let a = Self.family(4)
        let s = Self.set([a])
        let m = try #require(s.member(4))
        #expect(m.mem === a.superVersion.mem, "readers and the commit leader must agree before the first publish")
        #expect(m.imm == nil)
        Self.expectRoutingMatches(s)
    }

    @Test func membersStayInIdOrderAndARemovedFamilyIsNoLongerRouted() {
        let s = Self.set([Self.family(7), Self.family(2), Self.family(5)])
        #expect(s.members.map(\.id) == [0, 2, 5, 7])
        #expect(s.states.map(\.id) == [0, 2, 5, 7])
        Self.expectRoutingMatches(s)
        let removed = s.remove(5)
        #expect(removed?.id == 5)
        #expect(s.member(5) == nil)
        #expect(s.members.map(\.id) == [0, 2, 7])
        #expect(s.remove(5) == nil, "removing twice finds nothing")
        Self.expectRoutingMatches(s, absent: [5])
    }

    @Test func aSwitchRetiresOnlyNonEmptyMemtablesUnderTheNewLog() throws {
        let s = Self.set([Self.family(1), Self.family(2)])
        let full = try #require(s.activeMemtables.memtable(for: 1))
        Self.put(full, "a", sequence: 1)
        let quietDefault = try #require(s.member(0)).mem
        #expect(!s.allMemtablesEmpty)

        let switched = s.retireMemtables(newLog: 9)
        #expect(switched.map(\.id) == [1], "only family 1 had data")
        let one = try #require(s.member(1))
        #expect(one.imm === full && one.immLogNumber == 9)
        #expect(one.mem !== full && one.mem.isEmpty)
        #expect(try #require(s.member(0)).mem === quietDefault && s.member(0)?.imm == nil, "an empty memtable is not switched")
        #expect(s.allMemtablesEmpty)
        Self.expectRoutingMatches(s)
        #expect(s.retireMemtables(newLog: 10).isEmpty, "nothing new was written")
    }

    @Test func aFlushHandsTheImmutableMemtableBack() throws {
        let s = Self.set([Self.family(1), Self.family(3)])
        for id: UInt32 in [1, 3] { Self.put(try #require(s.activeMemtables.memtable(for: id)), "k", sequence: UInt64(id)) }
        _ = s.retireMemtables(newLog: 5)
        let first = try #require(s.nextToFlush())
        #expect(first.id == 1, "flushed in id order")
        #expect(s.finishFlush(of: 1, flushed: try #require(first.imm)))
        #expect(s.member(1)?.imm == nil)
        let second = try #require(s.nextToFlush())
        #expect(second.id == 3)
        s.remove(3)
        #expect(!s.finishFlush(of: 3, flushed: try #require(second.imm)), "a family dropped during its flush is reported")
        #expect(s.nextToFlush() == nil)
    }

    @Test func aFullMemtableIsSeenUntilItIsSwitchedOut() throws {
        let small = 64 << 10
        let s = Self.set([Self.family(1, writeBufferSize: small)])
        #expect(!s.anyMemtableFull)
        let m = try #require(s.activeMemtables.memtable(for: 1))
        var sequence: UInt64 = 0
        while m.approximateMemoryUsage < small && sequence < 100_000 {
            sequence += 1
            Self.put(m, "key-\(sequence)", sequence: sequence)
        }
        #expect(s.anyMemtableFull, "family 1 reached its write buffer size")
        _ = s.retireMemtables(newLog: 3)
        #expect(!s.anyMemtableFull, "the switch replaced it with an empty one")
    }

    @Test func aCatchUpSwapsInTheReplayedMemtablesAndDropsTheImmutableOnes() throws {
        let s = Self.set([Self.family(1), Self.family(2)])
        Self.put(try #require(s.activeMemtables.memtable(for: 1)), "k", sequence: 1)
        _ = s.retireMemtables(newLog: 4)
        let replayed: [UInt32: Memtable] = [0: Self.family(0).makeMemtable(), 1: Self.family(1).makeMemtable()]
        s.replaceMemtables(replayed)
        #expect(try #require(s.member(0)).mem === replayed[0])
        #expect(try #require(s.member(1)).mem === replayed[1] && s.member(1)?.imm == nil)
        #expect(try #require(s.member(2)).mem !== replayed[0], "a family without a replayed memtable keeps its own")
        Self.expectRoutingMatches(s)
    }
}
