import Foundation
import PlanTestKit
import Testing

@testable import PlanOCI

/// The proxy of Fixtures/fault_proxy.py, run as a child process on 127.0.0.1 in front of a real
/// registry: it logs every request ("METHOD PATH STATUS"), so tests count uploads exactly (the
/// reference registry's own log has no access lines), and fails or drops requests on demand.
final class FaultProxy {
    let pid: pid_t
    let port: Int
    let logFile: URL

    static var script: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/fault_proxy.py")
    }

    /// - Parameters:
    ///   - fail: `N:STATUS:METHOD:SUBSTR` each (see the script).
    ///   - drop: `SKIP:N:METHOD:SUBSTR` each.
    init(upstream: String = OCITestKit.registry, fail: [String] = [], drop: [String] = [], work: URL) throws {
        logFile = work.appendingPathComponent("proxy-\(UUID().uuidString).log")
        _ = FileManager.default.createFile(atPath: logFile.path, contents: nil)
        let portFile = work.appendingPathComponent("proxy-port-\(UUID().uuidString)")
        var arguments = [Self.script.path, "--upstream", upstream, "--log", logFile.path, "--lifetime", "1200"]
        for f in fail { arguments += ["--fail", f] }
        for d in drop { arguments += ["--drop", d] }
        let server = try ChildProcess.startServer(try OCITestKit.tool("python3"), arguments, environment: OCITestKit.environment,
                                                  portFile: portFile.path, portOnStandardOutput: true)
        pid = server.pid
        port = server.port
    }

    deinit { stop() }

    func stop() { ChildProcess.stop(pid) }

    var host: String { "127.0.0.1:\(port)" }

    /// Logged requests, "METHOD PATH STATUS" each.
    func requests() -> [String] {
        let text = (try? String(contentsOf: logFile, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").map(String.init)
    }

    /// Logged requests of one repository.
    func requests(of repository: String) -> [String] {
        requests().filter { $0.contains(" /v2/\(repository)/") }
    }

    /// Upload sessions opened in a repository: `POST …/blobs/uploads/` without a mount, or whose mount
    /// the registry declined (202).
    func uploadsStarted(in repository: String) -> Int {
        requests(of: repository).filter { $0.hasPrefix("POST ") && $0.contains("/blobs/uploads/") && $0.hasSuffix(" 202") }.count
    }

    /// Blobs completed by upload in a repository: `PUT …/blobs/uploads/…?digest=` answered 201.
    func blobsUploaded(in repository: String) -> Int {
        requests(of: repository).filter { $0.hasPrefix("PUT ") && $0.contains("/blobs/uploads/") && $0.hasSuffix(" 201") }.count
    }

    /// Requests of a method to upload sessions of a repository, with the status logged.
    func uploadRequests(_ method: String, in repository: String, status: String? = nil) -> [String] {
        requests(of: repository).filter { line in
            line.hasPrefix("\(method) ") && line.contains("/blobs/uploads/") && (status.map { line.hasSuffix(" \($0)") } ?? true)
        }
    }

    /// The timing log: "START END METHOD PATH STATUS" (monotonic milliseconds) per request.
    func timings() -> String {
        (try? String(contentsOf: URL(fileURLWithPath: logFile.path + ".timing"), encoding: .utf8)) ?? ""
    }

    func clearLog() throws {
        try Data().write(to: logFile)
        try Data().write(to: URL(fileURLWithPath: logFile.path + ".timing"))
    }
}
