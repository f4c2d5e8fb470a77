import Foundation

/// Starts host processes with posix_spawn and reaps them with waitpid — not Foundation's `Process`,
/// which was seen to hang when many processes are started at once.
///
/// Children get an empty signal mask and default SIGTERM, SIGINT and SIGPIPE, whatever the parent
/// blocks or ignores (test runners block signals; `plan run` ignores SIGINT for its own handler).
public enum Spawn {
    /// Where a child's stdout or stderr goes.
    public enum Output: Sendable {
        case discard
        /// A file, created or truncated.
        case file(String)
        /// A descriptor of the parent's, such as a pipe's write end.
        case descriptor(Int32)
    }

    public struct Failure: Error, CustomStringConvertible, Sendable {
        public let path: String
        public let code: Int32
        public var description: String { "cannot start \(path): \(String(cString: strerror(code)))" }
    }

    /// Starts `path` with `arguments` (argv[0] is `path`) and exactly `environment`.
    /// - Parameters:
    ///   - stdin: a file to read, or /dev/null.
    ///   - newProcessGroup: put the child in a process group of its own, so `kill(-pid, …)` reaches
    ///     everything it starts.
    ///   - closeOtherDescriptors: close every other descriptor of the parent in the child, whether or
    ///     not it was opened close-on-exec (for sandboxes).
    public static func start(_ path: String, _ arguments: [String], environment: [String: String],
                             stdin: String? = nil, stdout: Output, stderr: Output,
                             newProcessGroup: Bool = false, closeOtherDescriptors: Bool = false) throws -> pid_t {
        #if canImport(Darwin)
        var actions: posix_spawn_file_actions_t? = nil  // an opaque pointer there, a struct on Linux
        #else
        var actions = posix_spawn_file_actions_t()
        #endif
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, stdin ?? "/dev/null", O_RDONLY, 0)
        var kept: Set<Int32> = []
        for (target, output) in [(Int32(1), stdout), (Int32(2), stderr)] {
            switch output {
            case .discard: posix_spawn_file_actions_addopen(&actions, target, "/dev/null", O_WRONLY, 0)
            case .file(let file): posix_spawn_file_actions_addopen(&actions, target, file, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            case .descriptor(let fd):
                posix_spawn_file_actions_adddup2(&actions, fd, target)
                kept.insert(fd)
            }
        }
        if closeOtherDescriptors {
            let open = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []).compactMap { Int32($0) }
            for fd in open where fd > 2 && !kept.contains(fd) { posix_spawn_file_actions_addclose(&actions, fd) }
        }
        #if canImport(Darwin)
        var attributes: posix_spawnattr_t? = nil
        #else
        var attributes = posix_spawnattr_t()
        #endif
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var mask = sigset_t()
        sigemptyset(&mask)
        posix_spawnattr_setsigmask(&attributes, &mask)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGTERM, SIGINT, SIGPIPE] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF
        if newProcessGroup {
            posix_spawnattr_setpgroup(&attributes, 0)
            flags |= POSIX_SPAWN_SETPGROUP
        }
        posix_spawnattr_setflags(&attributes, Int16(flags))
        let argv: [UnsafeMutablePointer<CChar>?] = ([path] + arguments).map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = environment.sorted { $0.key < $1.key }
            .map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid = pid_t()
        let code = posix_spawn(&pid, path, &actions, &attributes, argv, envp)
        guard code == 0 else { throw Failure(path: path, code: code) }
        return pid
    }

    /// Waits for the child to exit: its exit status, or 128 + the signal that ended it.
    public static func wait(_ pid: pid_t) -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            if errno != EINTR { return -1 }
        }
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }
}
