import Foundation
import PlanProcess

/// The sandbox for runs as root: an OCI container run by `runc`, with the properties of runc under
/// BuildKit — `pivot_root` into the root filesystem, Docker's default capability set (none
/// effective for users other than root), `no_new_privs` for users other than root, a seccomp filter
/// (`SeccompProfile`), masked and read-only `/proc` paths, new pid, ipc, uts, mount and network
/// namespaces.
///
/// Each step gets a bundle folder (0700, root's) under the request's state folder (which is also runc's
/// `--root`) holding its `config.json`; the step's environment (secrets included) is only there, never on
/// a host command line.
public struct RuncSandbox: Sandbox {
    public let executable: String
    /// `slirp4netns`, for the default network; nil: steps get loopback only.
    public let slirp4netns: String?

    public init(executable: String, slirp4netns: String?) {
        self.executable = executable
        self.slirp4netns = slirp4netns
    }

    /// runc and slirp4netns from the usual folders; nil without runc.
    public static func find() -> RuncSandbox? {
        func tool(_ name: String) -> String? {
            ["/usr/sbin", "/usr/bin", "/sbin", "/bin", "/usr/local/sbin", "/usr/local/bin"]
                .map { $0 + "/" + name }.first { FileManager.default.isExecutableFile(atPath: $0) }
        }
        guard let runc = tool("runc") else { return nil }
        return RuncSandbox(executable: runc, slirp4netns: tool("slirp4netns"))
    }

    public func limitation(of request: SandboxRequest) -> String? {
        guard request.network == .default, slirp4netns == nil else { return nil }
        return "slirp4netns is missing: steps with the default network get loopback only (no outbound access)"
    }

    /// Docker's default capabilities.
    static let capabilities = [
        "CAP_AUDIT_WRITE", "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_MKNOD",
        "CAP_NET_BIND_SERVICE", "CAP_NET_RAW", "CAP_SETFCAP", "CAP_SETGID", "CAP_SETPCAP", "CAP_SETUID", "CAP_SYS_CHROOT",
    ]

    /// What runc's default spec masks and makes read-only.
    static let maskedPaths = [
        "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
        "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
    ]
    static let readonlyPaths = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]

    /// The OCI runtime configuration of `request`. `slirpHook`: the command that gives the container's
    /// network namespace outbound access (run by runc once the namespace exists), or nil.
    static func configuration(_ request: SandboxRequest, slirpHook: [String]?) -> [String: Any] {
        let isRoot = request.user.uid == 0
        let capabilities: [String: Any] = [
            "bounding": capabilities,
            "effective": isRoot ? capabilities : [],
            "permitted": isRoot ? capabilities : [],
            "inheritable": [String](),
            "ambient": [String](),
        ]
        var process: [String: Any] = [
            "terminal": false,
            "user": ["uid": request.user.uid, "gid": request.user.gid,
                     "additionalGids": request.user.groups] as [String: Any],
            "args": request.arguments,
            "env": request.environment,
            "cwd": request.workingDirectory,
            "capabilities": capabilities,
            "noNewPrivileges": !isRoot,
        ]
        process["oomScoreAdj"] = 0
        var mounts: [[String: Any]] = [
            ["destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]],
            ["destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]],
            ["destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]],
            ["destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]],
            ["destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]],
        ]
        // sysfs read-only, and only where the image has the folder (no mount point is made for it).
        var info = stat()
        if lstat(request.rootfs + "/sys", &info) == 0, info.st_mode & S_IFMT == S_IFDIR {
            mounts.append(["destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]])
        }
        for mount in request.mounts {
            switch mount.kind {
            case .bind:
                mounts.append(["destination": mount.target, "type": "bind", "source": mount.source,
                               "options": ["rbind", "nosuid", "nodev"] + (mount.readOnly ? ["ro"] : [])])
            case .tmpfs(let size):
                mounts.append(["destination": mount.target, "type": "tmpfs", "source": "tmpfs",
                               "options": ["nosuid", "nodev", "mode=1777"] + (size.map { ["size=\($0)"] } ?? [])])
            }
        }
        var namespaces: [[String: Any]] = [["type": "pid"], ["type": "ipc"], ["type": "uts"], ["type": "mount"]]
        if request.network != .host { namespaces.append(["type": "network"]) }
        var linux: [String: Any] = [
            "namespaces": namespaces,
            "maskedPaths": maskedPaths,
            "readonlyPaths": readonlyPaths,
            "seccomp": SeccompProfile.docker,
            "resources": ["devices": [["allow": false, "access": "rwm"] as [String: Any]]],
        ]
        linux["rootfsPropagation"] = "private"
        var configuration: [String: Any] = [
            "ociVersion": "1.0.2",
            "process": process,
            "root": ["path": request.rootfs, "readonly": false] as [String: Any],
            "hostname": request.hostname,
            "mounts": mounts,
            "linux": linux,
        ]
        if let slirpHook {
            configuration["hooks"] = ["createRuntime": [["path": slirpHook[0], "args": slirpHook,
                                                             "env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"]] as [String: Any]]]
        }
        return configuration
    }

    /// The hook that starts slirp4netns on the container's network namespace and waits until it is
    /// configured. It runs in runc's process group (so cancelling the step kills it too) and records its
    /// pid in `pidFile` for the step's end. Its descriptors are /dev/null: runc waits for the hook's
    /// output to close.
    static func slirpHook(slirp4netns: String, pidFile: String) -> [String] {
        let script = """
            pid=$(sed -n 's/.*"pid": *\\([0-9]*\\).*/\\1/p')
            { "$0" --configure --disable-host-loopback --mtu=65520 --ready-fd=3 "$pid" tap0 3>&1 >/dev/null 2>&1 </dev/null &
              echo $! > "$1"; } | head -c 1 >/dev/null
            """
        return ["/bin/sh", "-c", script, slirp4netns, pidFile]
    }

    /// Runs the request in a new container; returns the exit status (128+signal when killed).
    /// Cancelling the task kills the container and removes its state.
    public func run(_ request: SandboxRequest, output: @escaping @Sendable (Data) -> Void) async throws -> Int32 {
        var request = request
        let stateDirectory = request.stateDirectory
        let id = "plan-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let bundle = stateDirectory + "/bundles/" + id
        try FileManager.default.createDirectory(atPath: stateDirectory + "/bundles", withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        guard mkdir(bundle, 0o700) == 0 else {
            throw SandboxError.cannotStart("cannot create \(bundle): \(String(cString: strerror(errno)))")
        }
        defer { try? FileManager.default.removeItem(atPath: bundle) }
        let pidFile = bundle + "/slirp4netns.pid"
        let hook = request.network == .default ? slirp4netns.map { Self.slirpHook(slirp4netns: $0, pidFile: pidFile) } : nil
        if hook != nil, !request.mounts.contains(where: { $0.target == "/etc/resolv.conf" }), Self.canMountResolvConf(in: request.rootfs) {
            // slirp4netns's DNS forwarder, as BuildKit gives steps a resolv.conf of their network.
            let resolv = bundle + "/resolv.conf"
            guard FileManager.default.createFile(atPath: resolv, contents: Data("nameserver 10.0.2.3\n".utf8),
                                                 attributes: [.posixPermissions: 0o644]) else {
                throw SandboxError.cannotStart("cannot write \(resolv)")
            }
            request.mounts.append(SandboxMount(source: resolv, target: "/etc/resolv.conf", readOnly: true))
        }
        let stubs = try NamespaceSandbox.createStubs(request)
        defer { NamespaceSandbox.removeStubs(stubs) }
        request.mounts = stubs.mounts  // targets resolved inside the root, where the stubs are
        let data = try JSONSerialization.data(withJSONObject: Self.configuration(request, slirpHook: hook), options: [.sortedKeys])
        let configPath = bundle + "/config.json"
        let fd = open(configPath, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw SandboxError.cannotStart("cannot write \(configPath): \(String(cString: strerror(errno)))") }
        let written = data.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        guard written == data.count else { throw SandboxError.cannotStart("cannot write \(configPath)") }

        let environment = ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin"]
        let status: Int32
        do throws(ProcessRunner.StartFailure) {
            status = try await ProcessRunner.run(
                executable: executable,
                arguments: ["--root", stateDirectory, "run", "--bundle", bundle, id],
                environment: environment, output: output)
        } catch {
            cleanUp(id: id, pidFile: pidFile, stateDirectory: stateDirectory)
            throw SandboxError.cannotStart(error.description)
        }
        cleanUp(id: id, pidFile: pidFile, stateDirectory: stateDirectory)
        return status
    }

    /// Whether `/etc/resolv.conf` is a plain file or missing in a plain `/etc`: never through a symbolic
    /// link the image planted, where making the mount point would happen outside the root.
    static func canMountResolvConf(in rootfs: String) -> Bool {
        var info = stat()
        guard lstat(rootfs + "/etc", &info) == 0, info.st_mode & S_IFMT == S_IFDIR else { return false }
        if lstat(rootfs + "/etc/resolv.conf", &info) != 0 { return errno == ENOENT }
        return info.st_mode & S_IFMT == S_IFREG
    }

    /// Kills and removes the containers a killed run left in `stateDirectory` (runc's state folders are
    /// named by container id; `bundles` holds their configurations).
    static func deleteContainers(stateDirectory: String) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: stateDirectory),
              let sandbox = find() else { return }
        for name in names.sorted() where name.hasPrefix("plan-") {
            // Not its slirp4netns: a pid recorded by a dead run may belong to another process by now.
            sandbox.cleanUp(id: name, pidFile: nil, stateDirectory: stateDirectory)
        }
    }

    /// Stops slirp4netns, and removes a container `runc run` left behind (killed or cancelled).
    func cleanUp(id: String, pidFile: String?, stateDirectory: String) {
        if let pidFile, let text = try? String(contentsOfFile: pidFile, encoding: .utf8),
           let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 0 {
            kill(pid, SIGKILL)
        }
        if FileManager.default.fileExists(atPath: stateDirectory + "/" + id) {
            // `delete --force` kills what is left in the container's cgroup.
            if let pid = try? Spawn.start(executable, ["--root", stateDirectory, "delete", "--force", id],
                                          environment: ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin"],
                                          stdout: .discard, stderr: .discard) {
                _ = Spawn.wait(pid)
            }
        }
    }
}
