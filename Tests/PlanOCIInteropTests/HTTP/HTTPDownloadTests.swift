import Foundation
import PlanTestKit
import Testing

@testable import PlanOCI

/// `HTTPDownload` against a small HTTP server on 127.0.0.1 (python3): streamed bodies, redirects,
/// statuses, size limits, checksums, refused connections and stalls.
@Suite("HTTP downloads")
struct HTTPDownloadTests {
    /// 5 MB of varied bytes: the body arrives in many chunks.
    static let payload = Data((0..<5_000_000).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 11) })

    /// The server: `/file` (with Content-Length), `/stream` (no Content-Length, ends by closing),
    /// `/redirect` (302 to `/file`), `/big` (announces 1 GB), `/stall` (headers, then silence), else 404.
    final class Server {
        let pid: pid_t
        let port: Int
        let folder: URL

        init() throws {
            folder = try OCITestKit.temporaryDirectory("http-download")
            try HTTPDownloadTests.payload.write(to: folder.appendingPathComponent("payload"))
            let portFile = folder.appendingPathComponent("port")
            let server = try ChildProcess.startServer(try OCITestKit.tool("python3"), ["-c", """
                import http.server, sys, time
                body = open(sys.argv[1] + "/payload", "rb").read()
                class Handler(http.server.BaseHTTPRequestHandler):
                    def log_message(self, *args): pass
                    def do_GET(self):
                        if self.path == "/file":
                            self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
                            self.wfile.write(body)
                        elif self.path == "/stream":
                            self.send_response(200); self.end_headers()
                            for i in range(0, len(body), 65536): self.wfile.write(body[i:i + 65536])
                        elif self.path == "/redirect":
                            self.send_response(302); self.send_header("Location", "/file"); self.send_header("Content-Length", "0"); self.end_headers()
                        elif self.path == "/big":
                            self.send_response(200); self.send_header("Content-Length", str(1 << 30)); self.end_headers()
                            self.wfile.write(body[:1000])
                        elif self.path == "/stall":
                            self.send_response(200); self.send_header("Content-Length", "100"); self.end_headers()
                            self.wfile.write(b"x"); self.wfile.flush(); time.sleep(30)
                        else:
                            self.send_response(404); self.send_header("Content-Length", "0"); self.end_headers()
                server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
                open(sys.argv[2], "w").write("%d\\n" % server.server_address[1])
                server.serve_forever()
                """, folder.path, portFile.path], environment: OCITestKit.environment, portFile: portFile.path,
                portOnStandardOutput: false)
            pid = server.pid
            port = server.port
        }

        deinit {
            ChildProcess.stop(pid)
            OCITestKit.remove(folder)
        }

        func url(_ path: String) -> String { "http://127.0.0.1:\(port)\(path)" }
        /// A path for a download that does not exist yet.
        func destination() -> String { folder.appendingPathComponent("out-\(UUID().uuidString)").path }
    }

    static var checksum: Digest { Digest.sha256(of: payload) }

    @Test("a body with and without Content-Length streams to a 0600 file", arguments: ["/file", "/stream", "/redirect"])
    func downloads(path: String) async throws {
        let server = try Server()
        let destination = server.destination()
        let size = try await HTTPDownload(url: server.url(path), checksum: Self.checksum).write(to: destination)
        #expect(size == Int64(Self.payload.count))
        #expect(try Data(contentsOf: URL(fileURLWithPath: destination)) == Self.payload)
        let mode = try FileManager.default.attributesOfItem(atPath: destination)[.posixPermissions] as? Int
        #expect(mode == 0o600)
    }

    @Test("a wrong checksum fails naming both digests and leaves no file")
    func wrongChecksum() async throws {
        let server = try Server()
        let destination = server.destination()
        let wrong = Digest.sha256(of: Data("other".utf8))
        await #expect(throws: HTTPDownloadError.checksumMismatch(server.url("/stream"), expected: wrong, actual: Self.checksum)) {
            try await HTTPDownload(url: server.url("/stream"), checksum: wrong).write(to: destination)
        }
        #expect(!FileManager.default.fileExists(atPath: destination))
    }

    @Test("an error status is reported with its code")
    func errorStatus() async throws {
        let server = try Server()
        let destination = server.destination()
        let error = await #expect(throws: HTTPDownloadError.self) {
            try await HTTPDownload(url: server.url("/missing"), checksum: Self.checksum).write(to: destination)
        }
        #expect(error == .status(server.url("/missing"), 404))
        #expect(error?.description == "downloading \(server.url("/missing")) answered HTTP 404")
        #expect(!FileManager.default.fileExists(atPath: destination))
    }

    @Test("a body over the limit is refused, announced or arriving")
    func tooLarge() async throws {
        let server = try Server()
        for (path, limit) in [("/big", HTTPDownload.defaultMaximumSize / 16), ("/stream", 1_000_000)] {
            let destination = server.destination()
            await #expect(throws: HTTPDownloadError.tooLarge(server.url(path), limit)) {
                try await HTTPDownload(url: server.url(path), checksum: Self.checksum, maximumSize: limit).write(to: destination)
            }
            #expect(!FileManager.default.fileExists(atPath: destination))
        }
    }

    @Test("a closed port is a refused connection, named")
    func connectionRefused() async throws {
        let folder = try OCITestKit.temporaryDirectory("http-download")
        defer { OCITestKit.remove(folder) }
        let url = "http://127.0.0.1:1/file"
        let error = await #expect(throws: HTTPDownloadError.self) {
            try await HTTPDownload(url: url, checksum: Self.checksum).write(to: folder.appendingPathComponent("out").path)
        }
        #expect(error == .connectionRefused(url, "127.0.0.1:1"))
        #expect(error?.description.contains("connection to 127.0.0.1:1 refused") == true)
    }

    @Test("a transfer that stalls is abandoned")
    func stall() async throws {
        let server = try Server()
        var download = HTTPDownload(url: server.url("/stall"), checksum: Self.checksum)
        download.stallTimeout = .seconds(1)
        let error = await #expect(throws: HTTPDownloadError.self) { try await download.write(to: server.destination()) }
        guard case .transport(_, let why)? = error else {
            Issue.record("expected a transport failure, got \(String(describing: error))")
            return
        }
        // The watchdog's words: the server would only have closed the connection after 30 s.
        #expect(why.contains("stalled"), "\(why)")
    }

    @Test("what is not an http URL, and an existing destination, are refused before any request")
    func refusedBeforeRequest() async throws {
        let folder = try OCITestKit.temporaryDirectory("http-download")
        defer { OCITestKit.remove(folder) }
        for text in ["ftp://example.com/x", "not a url", "file:///etc/passwd"] {
            await #expect(throws: HTTPDownloadError.invalidURL(text)) {
                try await HTTPDownload(url: text, checksum: Self.checksum).write(to: folder.appendingPathComponent("out").path)
            }
        }
        let existing = folder.appendingPathComponent("existing")
        try Data("keep".utf8).write(to: existing)
        let error = await #expect(throws: HTTPDownloadError.self) {
            try await HTTPDownload(url: "http://127.0.0.1:1/x", checksum: Self.checksum).write(to: existing.path)
        }
        guard case .file(let path, _)? = error else {
            Issue.record("expected a file error, got \(String(describing: error))")
            return
        }
        #expect(path == existing.path)
        #expect(try Data(contentsOf: existing) == Data("keep".utf8))
    }
}
