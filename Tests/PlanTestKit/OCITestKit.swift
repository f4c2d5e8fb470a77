import Foundation
import PlanOCI

/// Helpers for the image and registry tests: temporary directories, external tools (a missing
/// tool fails the test, never skips it), the test registries' addresses, and small real layers.
public enum OCITestKit {
    public struct ToolFailed: Error, CustomStringConvertible {
        public let command: [String]
        public let status: Int32
        public let stderr: String
        public init(command: [String], status: Int32, stderr: String) {
            self.command = command
            self.status = status
            self.stderr = stderr
        }
        public var description: String { "\(command.joined(separator: " ")) exited \(status): \(stderr)" }
    }

    public static let environment = ProcessInfo.processInfo.environment

    /// The open test registry (scripts/test-registry).
    public static var registry: String { environment["PLAN_TEST_REGISTRY"] ?? "127.0.0.1:5555" }
    /// The test registry behind basic auth.
    public static var authRegistry: String { environment["PLAN_TEST_AUTH_REGISTRY"] ?? "127.0.0.1:5556" }
    public static var authUser: String { environment["PLAN_TEST_AUTH_USER"] ?? "plan-test" }
    public static var authPassword: String { environment["PLAN_TEST_AUTH_PASSWORD"] ?? "plan-test-password" }

    /// What the open test registry has logged so far (scripts/test-registry: its access lines in Apache's
    /// combined format, `… "POST /v2/NAME/blobs/uploads/ HTTP/1.1" 202 …`, and its warnings); empty when absent.
    public static func registryLog() -> String {
        let state = environment["PLAN_TEST_STATE"] ?? "/var/tmp/plan-test"
        return (try? String(contentsOfFile: state + "/registry/registry.log", encoding: .utf8)) ?? ""
    }

    /// Upload sessions the open registry's access log shows for `repository` (`POST /v2/REPOSITORY/blobs/uploads/`).
    public static func uploadRequests(_ repository: String) -> Int {
        registryLog().components(separatedBy: "\n").filter { $0.contains("\"POST /v2/\(repository)/blobs/uploads/") }.count
    }

    /// A new empty directory, removed by the caller's `defer`.
    public static func temporaryDirectory(_ name: String = "planoci") throws -> URL {
        let base = URL(fileURLWithPath: NSTemporaryDirectory(), isDirectory: true)
        let url = base.appendingPathComponent("\(name)-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    public static func remove(_ url: URL) { try? FileManager.default.removeItem(at: url) }

    /// The absolute path of a tool (`TestSupport.tool`), or a failure (never a skip).
    public static func tool(_ name: String) throws -> String { try TestSupport.tool(name) }

    /// Runs a tool to completion; throws unless it exits 0. Returns stdout.
    @discardableResult
    public static func run(_ name: String, _ arguments: [String], environment extra: [String: String] = [:]) throws -> String {
        let result = try runStatus(name, arguments, environment: extra)
        guard result.status == 0 else {
            throw ToolFailed(command: [name] + arguments, status: result.status, stderr: result.stderr)
        }
        return result.stdout
    }

    /// Runs a tool to completion; returns its status and output.
    public static func runStatus(_ name: String, _ arguments: [String], environment extra: [String: String] = [:]) throws -> (status: Int32, stdout: String, stderr: String) {
        let result = try TestSupport.run(try tool(name), arguments, environment: extra)
        return (result.status, result.stdout, result.stderr)
    }

    /// A real gzip layer made by GNU tar from `files` (path → content), deterministic
    /// (sorted, mtime 0, owner 0): written to `sink`; returns the layer for an ``ImageWriter``.
    public static func makeLayer(_ files: [String: String], in work: URL, sink: some BlobSink) throws -> ImageLayer {
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
    public static func sampleConfig() -> ContainerConfiguration {
        ContainerConfiguration(
            user: "1000:1000", exposedPorts: ["8080/tcp", "53/udp"], env: ["PATH=/usr/bin:/bin", "LANG=C.UTF-8"],
            entrypoint: ["/bin/app"], cmd: ["--serve"], volumes: ["/data", "/cache"], workingDir: "/srv",
            labels: ["org.opencontainers.image.title": "sample", "b": "2", "a": "1"], stopSignal: "SIGTERM")
    }
}
