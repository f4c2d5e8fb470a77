import Foundation

/// A bind mount into a sandbox: a host path at a path inside the root filesystem.
public struct SandboxMount: Hashable, Sendable {
    public var source: String
    public var target: String
    public var readOnly: Bool

    public init(source: String, target: String, readOnly: Bool) {
        self.source = source
        self.target = target
        self.readOnly = readOnly
    }
}

/// One process to run inside a root filesystem.
public struct SandboxRequest: Sendable {
    public var rootfs: String
    public var arguments: [String]
    /// `NAME=value`, exactly the process's environment.
    public var environment: [String]
    public var workingDirectory: String
    public var user: ResolvedUser
    /// False: a network namespace of its own, with only loopback (`network: none`).
    public var network: Bool
    public var mounts: [SandboxMount]
    public var hostname: String

    public init(rootfs: String, arguments: [String], environment: [String], workingDirectory: String,
                user: ResolvedUser, network: Bool = true, mounts: [SandboxMount] = [], hostname: String = "plan") {
        self.rootfs = rootfs
        self.arguments = arguments
        self.environment = environment
        self.workingDirectory = workingDirectory
        self.user = user
        self.network = network
        self.mounts = mounts
        self.hostname = hostname
    }
}

public enum SandboxError: Error, CustomStringConvertible {
    case cannotStart(String)

    public var description: String {
        switch self {
        case .cannotStart(let why): "cannot start the sandbox: \(why)"
        }
    }
}

/// Runs a process in new mount, pid, ipc and uts namespaces (and a network namespace for
/// `network: none`), chrooted into the root filesystem with `/proc`, a minimal `/dev` and the given
/// bind mounts, as the step's user. Needs root; mount points it has to create are removed again, so
/// they never reach a layer.
public struct NamespaceSandbox: Sendable {
    public init() {}

    static func quote(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    /// The host-side script that prepares the mounts and enters the root.
    static func script(_ request: SandboxRequest) -> String {
        let root = quote(request.rootfs)
        var lines = [
            "set -eu",
            "mount --make-rprivate /",
            "mount -t proc -o nosuid,nodev,noexec proc \(root)/proc",
            "mount -t tmpfs -o nosuid,mode=0755 tmpfs \(root)/dev",
            "for d in null zero full random urandom tty; do : > \(root)/dev/$d; mount --bind /dev/$d \(root)/dev/$d; done",
            "ln -s /proc/self/fd \(root)/dev/fd; ln -s /proc/self/fd/0 \(root)/dev/stdin",
            "ln -s /proc/self/fd/1 \(root)/dev/stdout; ln -s /proc/self/fd/2 \(root)/dev/stderr",
            "mkdir \(root)/dev/pts \(root)/dev/shm; mount -t tmpfs -o nosuid,nodev,mode=1777 shm \(root)/dev/shm",
            "hostname \(quote(request.hostname))",
        ]
        if !request.network { lines.append("ip link set lo up 2>/dev/null || true") }
        for mount in request.mounts {
            let target = quote(request.rootfs + mount.target)
            lines.append("mount --bind \(quote(mount.source)) \(target)")
            if mount.readOnly { lines.append("mount -o remount,bind,ro \(target)") }
        }
        var command = ["exec", "env", "-i"] + request.environment.map(quote)
        command += ["unshare", "--root=" + quote(request.rootfs), "--wd=" + quote(request.workingDirectory),
                    "--setgid", String(request.user.gid), "--setuid", String(request.user.uid), "--"]
        command += request.arguments.map(quote)
        lines.append(command.joined(separator: " "))
        return lines.joined(separator: "\n")
    }

    /// Creates missing mount points inside the root (see `MountPointStubs`), for `removeStubs`.
    static func createStubs(_ request: SandboxRequest) throws -> MountPointStubs { try MountPointStubs(request) }

    static func removeStubs(_ stubs: MountPointStubs) { stubs.remove() }

    /// Runs the request, passing output (stdout and stderr, interleaved) to `output` as it comes;
    /// returns the exit status (128+signal when killed). Cancelling the task kills the process.
    public func run(_ request: SandboxRequest, output: @escaping @Sendable (Data) -> Void) async throws -> Int32 {
        let stubs = try Self.createStubs(request)
        defer { Self.removeStubs(stubs) }
        var request = request
        request.mounts = stubs.mounts  // targets resolved inside the root, where the stubs are
        var flags = ["--mount", "--pid", "--ipc", "--uts", "--fork", "--kill-child"]
        if !request.network { flags.append("--net") }
        return try await ProcessRunner.run(
            // setpriv: the sandbox dies with plan, even when plan is killed with SIGKILL.
            executable: "/usr/bin/setpriv",
            arguments: ["--pdeathsig", "KILL", "--", "/usr/bin/unshare"] + flags + ["--", "/bin/sh", "-c", Self.script(request)],
            environment: ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin"], output: output)
    }
}
