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

/// Runs a host process, streaming its combined output, killing it when the task is cancelled.
enum ProcessRunner {
    static func run(executable: String, arguments: [String], environment: [String: String],
                    output: @escaping @Sendable (Data) -> Void) async throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = environment
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        pipe.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            if !data.isEmpty { output(data) }
        }
        let status: Int32 = try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                process.terminationHandler = { finished in
                    continuation.resume(returning: finished.terminationReason == .uncaughtSignal
                                        ? 128 + finished.terminationStatus : finished.terminationStatus)
                }
                do {
                    try process.run()
                } catch {
                    process.terminationHandler = nil
                    continuation.resume(throwing: SandboxError.cannotStart("\(error)"))
                }
            }
        } onCancel: {
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }
        pipe.fileHandleForReading.readabilityHandler = nil
        let rest = pipe.fileHandleForReading.readDataToEndOfFile()
        if !rest.isEmpty { output(rest) }
        return status
    }
}
