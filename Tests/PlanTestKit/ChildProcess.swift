import Foundation
import PlanProcess
#if canImport(Glibc)
import Glibc
#endif

/// Child processes for the tests (every test target shares them): `Spawn` with output in files, so no
/// pipe can leak into another test's long-lived child, plus stopping with a fallback to SIGKILL.
public enum ChildProcess {
    public static func spawn(_ path: String, _ arguments: [String], environment: [String: String], stdout: String?, stderr: String?,
                             stdin: String? = nil) throws -> pid_t {
        try Spawn.start(path, arguments, environment: environment, stdin: stdin,
                        stdout: stdout.map { .file($0) } ?? .discard, stderr: stderr.map { .file($0) } ?? .discard)
    }

    /// Waits for the child to exit; its exit status, or 128 + signal.
    public static func wait(_ pid: pid_t) -> Int32 { Spawn.wait(pid) }

    /// Whether the child is still running (reaping it if it has exited).
    public static func isRunning(_ pid: pid_t) -> Bool {
        var status: Int32 = 0
        return waitpid(pid, &status, WNOHANG) == 0
    }

    /// SIGTERM, then SIGKILL after 2 s, and reap.
    public static func stop(_ pid: pid_t) {
        guard isRunning(pid) else { return }
        kill(pid, SIGTERM)
        for _ in 0..<40 {
            if !isRunning(pid) { return }
            usleep(50_000)
        }
        kill(pid, SIGKILL)
        _ = wait(pid)
    }
}
