import Foundation
import PlanProcess

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
        var request = request
        request.mounts = stubs.mounts  // targets resolved inside the root, where the stubs are
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
        let child: pid_t
        do {
            child = try Spawn.start(executable, arguments, environment: environment, stdout: .descriptor(fds[1]),
                                    stderr: .descriptor(fds[1]), newProcessGroup: true, closeOtherDescriptors: true)
        } catch {
            close(fds[0])
            close(fds[1])
            throw SandboxError.cannotStart("\(error)")
        }
        close(fds[1])
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
                DispatchQueue.global().async { continuation.resume(returning: Spawn.wait(child)) }
            }
        } onCancel: {
            kill(-child, SIGKILL)
        }
        if Task.isCancelled {
            // Everything in the group goes, and is gone before we return.
            for _ in 0..<1_000 {  // up to 10 s: tearing down a sandbox's namespaces can take a while
                if kill(-child, SIGKILL) != 0, errno == ESRCH { break }
                usleep(10_000)
            }
        }
        drained.wait()
        return status
    }
}
