import Foundation
import PlanTestKit
import Testing

@testable import PlanOCI

/// Helpers for the image and registry tests: temporary directories, external tools (a missing
/// tool fails the test, never skips it), the test registries' addresses, and small real layers.
enum OCITestKit {
    struct ToolMissing: Error, CustomStringConvertible {
        let tool: String
        var description: String { "required tool \"\(tool)\" is not installed (scripts/test installs it)" }
    }

    struct ToolFailed: Error, CustomStringConvertible {
        let command: [String]
        let status: Int32
        let stderr: String
        var description: String { "\(command.joined(separator: " ")) exited \(status): \(stderr)" }
    }

    static let environment = ProcessInfo.processInfo.environment

    /// The open test registry (scripts/test-registry).
    static var registry: String { environment["PLAN_TEST_REGISTRY"] ?? "127.0.0.1:5555" }
    /// The test registry behind basic auth.
    static var authRegistry: String { environment["PLAN_TEST_AUTH_REGISTRY"] ?? "127.0.0.1:5556" }
    static var authUser: String { environment["PLAN_TEST_AUTH_USER"] ?? "plan-test" }
    static var authPassword: String { environment["PLAN_TEST_AUTH_PASSWORD"] ?? "plan-test-password" }

    /// A new empty directory, removed by the caller's `defer`.
    static func temporaryDirectory(_ name: String = "planoci") throws -> URL {
        let base = URL(fileURLWithPath: NSTemporaryDirectory(), isDirectory: true)
        let url = base.appendingPathComponent("\(name)-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    static func remove(_ url: URL) { try? FileManager.default.removeItem(at: url) }

    /// A new empty file in the temporary directory.
    static func temporaryFile(_ name: String) throws -> URL {
        let url = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("planoci-\(name)-\(UUID().uuidString)")
        guard FileManager.default.createFile(atPath: url.path, contents: nil) else {
            throw ToolFailed(command: ["create", url.path], status: -1, stderr: "cannot create")
        }
        return url
    }

    /// The absolute path of a tool on PATH, or a failure (never a skip).
    static func tool(_ name: String) throws -> String {
        for dir in (environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let path = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        Issue.record("required tool \"\(name)\" is not installed")
        throw ToolMissing(tool: name)
    }

    /// Runs a tool to completion; throws unless it exits 0. Returns stdout.
    @discardableResult
    static func run(_ name: String, _ arguments: [String], environment extra: [String: String] = [:]) throws -> String {
        let result = try runStatus(name, arguments, environment: extra)
        guard result.status == 0 else {
            throw ToolFailed(command: [name] + arguments, status: result.status, stderr: result.stderr)
        }
        return result.stdout
    }

    /// Runs a tool to completion; returns its status and output.
    static func runStatus(_ name: String, _ arguments: [String], environment extra: [String: String] = [:]) throws -> (status: Int32, stdout: String, stderr: String) {
        // Output goes to files, not pipes: a pipe's write end can leak into another child
        // started at the same time by a parallel test, and reading it to EOF would then wait
        // for that child to exit.
        let outFile = try temporaryFile("stdout")
        let errFile = try temporaryFile("stderr")
        defer { try? FileManager.default.removeItem(at: outFile); try? FileManager.default.removeItem(at: errFile) }
        let pid = try ChildProcess.spawn(
            try tool(name), arguments, environment: environment.merging(extra) { $1 }, stdout: outFile.path, stderr: errFile.path)
        let status = ChildProcess.wait(pid)
        let outData = try Data(contentsOf: outFile)
        let errData = try Data(contentsOf: errFile)
        return (status, String(decoding: outData, as: UTF8.self), String(decoding: errData, as: UTF8.self))
    }

    /// A real gzip layer made by GNU tar from `files` (path → content), deterministic
    /// (sorted, mtime 0, owner 0): written to `sink`; returns the layer for an ``ImageWriter``.
    static func makeLayer(_ files: [String: String], in work: URL, sink: some BlobSink) throws -> ImageLayer {
        let tree = work.appendingPathComponent("tree-\(UUID().uuidString)")
        for (path, content) in files {
            let url = tree.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(content.utf8).write(to: url)
        }
        let tar = work.appendingPathComponent("layer-\(UUID().uuidString).tar")
        try run("tar", [
            "--sort=name", "--mtime=@0", "--owner=0", "--group=0", "--numeric-owner", "--format=posix",
            "--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime",
            "-C", tree.path, "-cf", tar.path, ".",
        ])
        try run("gzip", ["-n", "-k", "-f", tar.path])
        let tarData = try Data(contentsOf: tar)
        let gz = try Data(contentsOf: URL(fileURLWithPath: tar.path + ".gz"))
        let digest = try sink.putBlob(gz)
        return ImageLayer(
            descriptor: Descriptor(mediaType: .ociLayerGzip, digest: digest, size: Int64(gz.count)),
            diffID: Digest.sha256(of: tarData))
    }

    /// The fixed inputs of the determinism and layout tests.
    static func sampleConfig() -> ContainerConfiguration {
        ContainerConfiguration(
            user: "1000:1000", exposedPorts: ["8080/tcp", "53/udp"], env: ["PATH=/usr/bin:/bin", "LANG=C.UTF-8"],
            entrypoint: ["/bin/app"], cmd: ["--serve"], volumes: ["/data", "/cache"], workingDir: "/srv",
            labels: ["org.opencontainers.image.title": "sample", "b": "2", "a": "1"], stopSignal: "SIGTERM")
    }
}
