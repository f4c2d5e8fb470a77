import Foundation
import PlanExecutor

/// Which sandbox `plan run` runs steps in, decided once before the build and handed to the executor
/// (`RunOptions.sandbox`): runc as root, bubblewrap in a user namespace otherwise.
enum SandboxChoice {
    /// Why no sandbox can run steps here.
    struct Unavailable: Error, CustomStringConvertible {
        var description: String
    }

    /// The sandbox for a process running as root (`isRoot`) or not, or why there is none.
    static func choose(isRoot: Bool = getuid() == 0,
                       runc: () -> RuncSandbox? = { RuncSandbox.find() },
                       bubblewrap: () -> BubblewrapSandbox? = { BubblewrapSandbox.find() }) throws(Unavailable) -> any Sandbox {
        if isRoot {
            guard let sandbox = runc() else {
                throw Unavailable(description: "plan run as root needs runc (looked in /usr/sbin, /usr/bin, /sbin, /bin, /usr/local/sbin, /usr/local/bin)")
            }
            return sandbox
        }
        guard let sandbox = bubblewrap() else {
            throw Unavailable(description: "plan run needs root, or bubblewrap (bwrap) for runs in a user namespace")
        }
        return sandbox
    }
}
