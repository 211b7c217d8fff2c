/// The write path's way into functions that take the `mu` proof.
///
/// `GroupCommit.swift` still takes `mu` with `lock()`/`unlock()` (it is
/// being reworked on its own branch); until it takes `mu.withHeld` and
/// passes its token down, it calls these untokened forms, each of which
/// asserts (debug builds) that the calling thread holds `mu` and forwards
/// with a token from `mu.assumeHeld`. Nothing else may call them; once
/// the write path is converted this file goes.
extension DBCore {
    func rebuildActiveMemtablesLocked() { mu.assumeHeld { rebuildActiveMemtables($0) } }

    func publishSuperVersion(_ family: ColumnFamilyState) { mu.assumeHeld { publishSuperVersion(family, $0) } }

    func setBackgroundErrorLocked(_ e: StrataError, during what: String) {
        mu.assumeHeld { setBackgroundError(e, during: what, $0) }
    }

    func wakeCompactionLocked() { mu.assumeHeld { wakeCompaction($0) } }

    func readOnlyError() -> StrataError { mu.assumeHeld { readOnlyError($0) } }
}
