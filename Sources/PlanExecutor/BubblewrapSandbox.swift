import Foundation

/// The sandbox for runs without root: bubblewrap in a new user namespace, with the step's user and
/// group mapped inside it. Files the step writes belong to the invoking user on the host, so an
/// unprivileged run records no other owners in its layers.
public struct BubblewrapSandbox: Sendable {
    public let executable: String

    /// The bubblewrap on PATH, or nil.
    public static func find() -> BubblewrapSandbox? {
        for folder in ["/usr/bin", "/bin", "/usr/local/bin"] where FileManager.default.isExecutableFile(atPath: folder + "/bwrap") {
            return BubblewrapSandbox(executable: folder + "/bwrap")
        }
        return nil
    }

    static func arguments(_ request: SandboxRequest) -> [String] {
        var arguments = ["--bind", request.rootfs, "/", "--proc", "/proc", "--dev", "/dev",
                         "--unshare-user", "--uid", String(request.user.uid), "--gid", String(request.user.gid),
                         "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--hostname", request.hostname,
                         "--die-with-parent", "--chdir", request.workingDirectory, "--clearenv"]
        if !request.network { arguments.append("--unshare-net") }
        for mount in request.mounts {
            arguments += [mount.readOnly ? "--ro-bind" : "--bind", mount.source, mount.target]
        }
        for entry in request.environment {
            let parts = entry.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            arguments += ["--setenv", parts[0], parts.count > 1 ? parts[1] : ""]
        }
        return arguments + ["--"] + request.arguments
    }

    public func run(_ request: SandboxRequest, output: @escaping @Sendable (Data) -> Void) async throws -> Int32 {
        let stubs = try NamespaceSandbox.createStubs(request)
        defer { NamespaceSandbox.removeStubs(stubs) }
        return try await ProcessRunner.run(executable: executable, arguments: Self.arguments(request),
                                           environment: ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin"], output: output)
    }
}

/// Runs a host process in a process group of its own, streaming its combined output.
///
/// posix_spawn and waitpid, not Foundation's `Process` (which was seen to hang under many concurrent
/// spawns). Cancelling the task kills the whole group — the sandbox and everything it started — and
/// returns only once the group is gone, so nothing outlives a stopped run.
enum ProcessRunner {
    static func run(executable: String, arguments: [String], environment: [String: String],
                    output: @escaping @Sendable (Data) -> Void) async throws -> Int32 {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw SandboxError.cannotStart(String(cString: strerror(errno))) }
        // Only the child's stdout and stderr (dup2 clears the flag there) keep the write end.
        _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
        posix_spawn_file_actions_adddup2(&actions, fds[1], 2)
        // No other descriptor of plan's reaches a sandbox, whether or not it was opened close-on-exec.
        let open = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []).compactMap { Int32($0) }
        for fd in open where fd > 2 && fd != fds[1] { posix_spawn_file_actions_addclose(&actions, fd) }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var mask = sigset_t()
        sigemptyset(&mask)
        posix_spawnattr_setsigmask(&attributes, &mask)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGTERM, SIGINT, SIGPIPE] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))
        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = environment.sorted { $0.key < $1.key }
            .map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid = pid_t()
        let spawned = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        close(fds[1])
        guard spawned == 0 else {
            close(fds[0])
            throw SandboxError.cannotStart("\(executable): \(String(cString: strerror(spawned)))")
        }
        let child = pid
        let readFD = fds[0]
        let drained = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            var buffer = [UInt8](repeating: 0, count: 1 << 16)
            while true {
                let count = buffer.withUnsafeMutableBytes { read(readFD, $0.baseAddress, $0.count) }
                if count > 0 {
                    output(Data(buffer[0..<count]))
                } else if count == 0 || errno != EINTR {
                    break
                }
            }
            close(readFD)
            drained.signal()
        }
        let status: Int32 = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                DispatchQueue.global().async {
                    var raw: Int32 = 0
                    while waitpid(child, &raw, 0) < 0, errno == EINTR {}
                    let signal = raw & 0x7f
                    continuation.resume(returning: signal == 0 ? (raw >> 8) & 0xff : 128 + signal)
                }
            }
        } onCancel: {
            kill(-child, SIGKILL)
        }
        if Task.isCancelled {
            // Everything in the group goes, and is gone before we return.
            for _ in 0..<200 {
                if kill(-child, SIGKILL) != 0, errno == ESRCH { break }
                usleep(10_000)
            }
        }
        drained.wait()
        return status
    }
}
