/// What log replay does with one piece of damage.
enum WALDamageAction: Equatable {
    /// Fail the open with `.corruption`.
    case fail
    /// Stop replay here: this record, the rest of this log and every later log are dropped.
    case stop
    /// Skip the damaged record and go on.
    case skip
}

extension WALRecoveryMode {
    /// The one recovery-mode policy, for damage in a log frame (`LogReader`)
    /// and for an intact frame whose batch does not decode (recovery).
    /// `isTornTail` is true only when no valid record follows the damage
    /// (what an interrupted append leaves); a batch inside an intact frame
    /// is never a torn tail, since the frame's checksum held.
    func action(isTornTail: Bool) -> WALDamageAction {
        switch self {
        case .absoluteConsistency: return .fail
        case .tolerateCorruptedTail: return isTornTail ? .stop : .fail
        case .pointInTime: return .stop
        case .skipAnyCorruptedRecord: return .skip
        }
    }
}
