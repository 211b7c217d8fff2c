#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Ends a test child process once its parent is gone.
///
/// The stress and crash-test children (`stress-child`, `stress-*-child`)
/// run flat out until their parent kills them. When the parent itself dies
/// first — a test run interrupted, a test process killed by its time limit —
/// nobody kills them, and they keep two cores busy for the rest of the day.
/// `PR_SET_PDEATHSIG` is not used because Linux sends it when the *thread*
/// that started the child exits, and the parent starts children from pool
/// threads that may retire while the child is meant to live. Instead a
/// detached thread compares `getppid()` with the parent seen at start once
/// a second; a change means the child was re-parented (to init or a
/// subreaper), and it exits with status 125 at once.
enum OrphanWatch {
    static func start() {
        let parent = getppid()
        guard parent > 1 else { return }
        let thread = Thread {
            while true {
                sleep(1)
                if getppid() != parent { _exit(125) }
            }
        }
        thread.name = "strata-orphan-watch"
        thread.start()
    }
}
