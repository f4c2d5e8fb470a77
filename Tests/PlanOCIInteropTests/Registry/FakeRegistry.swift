import Foundation
import PlanTestKit
import Testing

@testable import PlanOCI

/// The fake registry of Fixtures/fake_registry.py, run as a child process on 127.0.0.1 over an
/// OCI layout the test writes; it logs each request so tests can count them, and misbehaves
/// on request (wrong blob bytes, error statuses, dropped connections, Bearer tokens).
final class FakeRegistry {
    let pid: pid_t
    let port: Int
    let logFile: URL
    let repository = "test/app"

    static var script: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/fake_registry.py")
    }

    init(layout: URL, options: [String] = [], work: URL) throws {
        logFile = work.appendingPathComponent("requests-\(UUID().uuidString).log")
        FileManager.default.createFile(atPath: logFile.path, contents: nil)
        // The port comes back through a file, not a pipe (see OCITestKit.runStatus).
        let portFile = work.appendingPathComponent("port-\(UUID().uuidString)")
        // The lifetime is only a safety net (stop() ends it): long enough that a test starved of
        // threads by a busy parallel test run still finds its server.
        let server = try ChildProcess.startServer(
            try OCITestKit.tool("python3"),
            [Self.script.path, "--layout", layout.path, "--repo", repository, "--log", logFile.path, "--lifetime", "1200"] + options,
            environment: OCITestKit.environment, portFile: portFile.path, portOnStandardOutput: true)
        pid = server.pid
        port = server.port
    }

    deinit { stop() }

    /// Stops the server: SIGTERM, then SIGKILL if it is still there after 2 s.
    func stop() { ChildProcess.stop(pid) }

    var host: String { "127.0.0.1:\(port)" }

    func reference(_ tag: String) throws -> ImageReference {
        try ImageReference(parsing: "\(host)/\(repository):\(tag)")
    }

    /// Logged requests, "METHOD PATH STATUS" each.
    func requests() -> [String] {
        let text = (try? String(contentsOf: logFile, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").map(String.init)
    }

    func blobRequests() -> [String] { requests().filter { $0.contains("/blobs/") } }

    func clearLog() throws { try Data().write(to: logFile) }

    func client(credentials: RegistryCredentials = .none, attempts: Int = 4) -> RegistryClient {
        RegistryClient(configuration: .init(
            insecureRegistries: [host], credentials: credentials,
            retry: RetryPolicy(maxAttempts: attempts, initialDelay: .milliseconds(20), maximumDelay: .milliseconds(200))))
    }
}

/// A small image in an OCI layout, for the fake registry to serve: tag `1`.
struct FakeImage {
    let layout: OCILayout
    let written: WrittenImage

    init(at dir: URL, work: URL) throws {
        layout = try OCILayout.create(at: dir)
        let l1 = try OCITestKit.makeLayer(["a/one": String(repeating: "1", count: 70_000)], in: work, sink: layout)
        let l2 = try OCITestKit.makeLayer(["b/two": "two\n"], in: work, sink: layout)
        written = try ImageWriter(platform: .host, config: OCITestKit.sampleConfig(), layers: [l1, l2]).write(to: layout)
        try layout.add(written.manifestDescriptor, name: "1")
    }

    var layers: [Descriptor] { written.manifest.layers }
}
