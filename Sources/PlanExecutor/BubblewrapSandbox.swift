import Foundation
import PlanProcess

/// The sandbox for runs without root: bubblewrap in new user, pid, ipc, uts, cgroup and network
/// namespaces (the host's network only for `network: host`), with the step's user and group mapped
/// inside it, every capability dropped, a new session (no terminal injection), the same masked paths
/// as runc (bubblewrap itself makes `/proc/sys`, `/proc/sysrq-trigger`, `/proc/irq` and `/proc/bus`
/// read-only). Files the step writes belong to the invoking user on the host, so an unprivileged run
/// records no other owners in its layers.
///
/// bubblewrap reads its options, the step's environment among them, from a file (`--args 0`, as its
/// standard input) in a 0700 folder, so no secret is on a host command line; only the step's command
/// (the plan's `run` text) is.
public struct BubblewrapSandbox: Sandbox {
    public let executable: String

    public init(executable: String) {
        self.executable = executable
    }

    /// The bubblewrap on PATH, or nil.
    public static func find() -> BubblewrapSandbox? {
        for folder in ["/usr/bin", "/bin", "/usr/local/bin"] where FileManager.default.isExecutableFile(atPath: folder + "/bwrap") {
            return BubblewrapSandbox(executable: folder + "/bwrap")
        }
        return nil
    }

    /// Without root there is no slirp4netns network namespace: the default network is loopback only.
    public func limitation(of request: SandboxRequest) -> String? {
        guard request.network == .default else { return nil }
        return "without root, steps with the default network get loopback only (no outbound access); use `network: host` for the host's network"
    }

    static func arguments(_ request: SandboxRequest) -> [String] {
        var arguments = ["--bind", request.rootfs, "/", "--proc", "/proc", "--dev", "/dev",
                         "--unshare-all", "--uid", String(request.user.uid), "--gid", String(request.user.gid),
                         "--hostname", request.hostname, "--cap-drop", "ALL", "--new-session",
                         "--die-with-parent", "--chdir", request.workingDirectory, "--clearenv"]
        if request.network == .host { arguments.append("--share-net") }
        for path in RuncSandbox.maskedPaths where path.hasPrefix("/proc/") {
            var info = stat()
            guard lstat(path, &info) == 0 else { continue }
            if info.st_mode & S_IFMT == S_IFDIR {
                arguments += ["--tmpfs", path, "--remount-ro", path]
            } else {
                arguments += ["--ro-bind", "/dev/null", path]
            }
        }
        for mount in request.mounts {
            switch mount.kind {
            case .bind:
                arguments += [mount.readOnly ? "--ro-bind" : "--bind", mount.source, mount.target]
            case .tmpfs(let size):
                arguments += (size.map { ["--size", String($0)] } ?? []) + ["--perms", "1777", "--tmpfs", mount.target]
            }
        }
        for entry in request.environment {
            let parts = entry.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            arguments += ["--setenv", parts[0], parts.count > 1 ? parts[1] : ""]
        }
        return arguments
    }

    public func run(_ request: SandboxRequest, output: @escaping @Sendable (Data) -> Void) async throws -> Int32 {
        let stubs = try NamespaceSandbox.createStubs(request)
        defer { NamespaceSandbox.removeStubs(stubs) }
        var request = request
        request.mounts = stubs.mounts  // targets resolved inside the root, where the stubs are
        // The argument files hold the step's environment: a 0700 folder.
        let stateDirectory = request.stateDirectory
        try FileManager.default.createDirectory(atPath: stateDirectory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        var template = Array((stateDirectory + "/args-XXXXXX").utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { buffer in buffer.baseAddress.map { mkstemp($0) } ?? -1 }
        guard fd >= 0 else { throw SandboxError.cannotStart("cannot create a file in \(stateDirectory): \(String(cString: strerror(errno)))") }
        let argumentsFile = String(cString: template)
        defer { unlink(argumentsFile) }
        var bytes: [UInt8] = []
        for argument in Self.arguments(request) { bytes += Array(argument.utf8) + [0] }
        // The command stays on the command line: bubblewrap takes no `--` and command from `--args`.
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        guard written == bytes.count else { throw SandboxError.cannotStart("cannot write \(argumentsFile)") }
        do throws(ProcessRunner.StartFailure) {
            return try await ProcessRunner.run(executable: executable, arguments: ["--args", "0", "--"] + request.arguments,
                                               stdin: argumentsFile, environment: ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin"],
                                               output: output)
        } catch {
            throw SandboxError.cannotStart(error.description)
        }
    }
}
