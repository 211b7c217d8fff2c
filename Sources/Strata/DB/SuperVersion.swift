/// What a reader needs to see one consistent state of a column family: the
/// active memtable, the memtable being flushed (if any) and the table files.
/// Replaced as a whole whenever one of them changes; readers grab the
/// current one under a short lock and then read without any lock.
final class SuperVersion: Sendable {
    let mem: Memtable
    let imm: Memtable?
    let version: Version

    init(mem: Memtable, imm: Memtable?, version: Version) {
        self.mem = mem
        self.imm = imm
        self.version = version
    }
}
