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

    /// A test server that was started.
    public struct Server {
        public let pid: pid_t
        public let port: Int
    }

    /// Why a test server did not start.
    public struct ServerFailed: Error, CustomStringConvertible {
        public var command: [String]
        public var stderr: String
        public var description: String { "\(command.joined(separator: " ")) printed no port within 10 s\(stderr.isEmpty ? "" : ": \(stderr)")" }
    }

    /// Starts a local test server (`python3 SCRIPT …`) that writes its port and a newline to `portFile`
    /// (its standard output when `portOnStandardOutput`), and waits up to 10 s for it; a server that
    /// prints no port is stopped, and its standard error (kept in `stderr`, if given) is in the error.
    public static func startServer(_ path: String, _ arguments: [String], environment: [String: String], portFile: String,
                                   portOnStandardOutput: Bool, stderr: String? = nil) throws -> Server {
        let pid = try spawn(path, arguments, environment: environment, stdout: portOnStandardOutput ? portFile : nil, stderr: stderr)
        for _ in 0..<200 {  // up to 10 s
            let text = (try? String(contentsOfFile: portFile, encoding: .utf8)) ?? ""
            if text.hasSuffix("\n"), let port = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
                return Server(pid: pid, port: port)
            }
            usleep(50_000)
        }
        stop(pid)
        throw ServerFailed(command: [path] + arguments.prefix(1),
                           stderr: stderr.flatMap { try? String(contentsOfFile: $0, encoding: .utf8) } ?? "")
    }
}
