import Foundation
import PlanTestKit
#if canImport(Glibc)
import Glibc
#endif

/// A plain-HTTP proxy in front of a test registry that writes `METHOD PATH STATUS` for every request to
/// a log (the test registries keep no access log) and can send request bodies slowly, so that a push
/// can be stopped midway. The registry builds its upload `Location`s from the `Host` header, which the
/// proxy passes on, so sessions keep going through it.
final class RecordingProxy {
    let address: String
    let logPath: String
    private let pid: pid_t

    /// Starts a proxy to `upstream` (host:port) that sends request bodies at `bytesPerSecond` per request (0: at once).
    init(upstream: String, bytesPerSecond: Int = 0, folder: String) throws {
        let python = try TestSupport.tool("python3", environment: "PLAN_TEST_PYTHON")
        let script = folder + "/proxy.py"
        try Self.script.write(toFile: script, atomically: true, encoding: .utf8)
        logPath = folder + "/proxy.log"
        let portFile = folder + "/proxy.port"
        let server = try ChildProcess.startServer(python, [script, upstream, String(bytesPerSecond), logPath, portFile],
                                                  environment: ProcessInfo.processInfo.environment, portFile: portFile,
                                                  portOnStandardOutput: false, stderr: folder + "/proxy.stderr")
        pid = server.pid
        address = "127.0.0.1:\(server.port)"
    }

    func stop() { ChildProcess.stop(pid) }

    /// The requests so far: method, path (with query) and status.
    func requests() -> [(method: String, path: String, status: Int)] {
        let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { line in
            let parts = line.split(separator: " ")
            guard parts.count == 3, let status = Int(parts[2]) else { return nil }
            return (String(parts[0]), String(parts[1]), status)
        }
    }

    /// The digests of blobs whose upload completed (`PUT …/blobs/uploads/…?digest=D` answered 201).
    func completedUploads() -> [String] {
        requests().filter { $0.method == "PUT" && $0.path.contains("/blobs/uploads/") && $0.status == 201 }.compactMap { request in
            request.path.components(separatedBy: "digest=").last.map { $0.removingPercentEncoding ?? $0 }
        }
    }

    static let script = #"""
        import http.client, http.server, sys, time, threading
        upstream, rate, log_path, port_path = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
        lock = threading.Lock()

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            def log_message(self, *args): pass
            def forward(self):
                length = int(self.headers.get("Content-Length") or 0)
                connection = http.client.HTTPConnection(upstream, timeout=300)
                connection.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
                for key, value in self.headers.items():
                    if key.lower() != "connection":
                        connection.putheader(key, value)
                connection.endheaders()
                remaining = length
                step = max(1, rate // 20) if rate else 1 << 16
                while remaining > 0:
                    chunk = self.rfile.read(min(step, remaining))
                    if not chunk:
                        break
                    connection.send(chunk)
                    remaining -= len(chunk)
                    if rate:
                        time.sleep(len(chunk) / rate)
                response = connection.getresponse()
                body = response.read()
                with lock:
                    with open(log_path, "a") as log:
                        log.write("%s %s %d\n" % (self.command, self.path, response.status))
                self.send_response_only(response.status, response.reason)
                for key, value in response.getheaders():
                    if key.lower() in ("transfer-encoding", "connection"):
                        continue
                    if key.lower() == "content-length" and self.command != "HEAD":
                        continue
                    self.send_header(key, value)
                if self.command != "HEAD":
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)
                connection.close()
            do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = forward

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        with open(port_path + ".tmp", "w") as f:
            f.write("%d\n" % server.server_address[1])
        import os
        os.rename(port_path + ".tmp", port_path)
        server.serve_forever()
        """#
}
