import Foundation
import Testing

@testable import PlanOCI

@Suite("Registry auth pieces")
struct RegistryAuthTests {
    @Test("WWW-Authenticate challenges")
    func challenges() throws {
        let bearer = try #require(AuthChallenge(header:
            #"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull""#))
        #expect(bearer.scheme == "bearer")
        #expect(bearer.parameters == [
            "realm": "https://auth.docker.io/token", "service": "registry.docker.io", "scope": "repository:library/busybox:pull",
        ])
        let basic = try #require(AuthChallenge(header: #"Basic realm="plan-test""#))
        #expect(basic.scheme == "basic" && basic.parameters["realm"] == "plan-test")
        let spaced = try #require(AuthChallenge(header: #"Bearer realm = "r", error="insufficient_scope", scope="a,b""#))
        #expect(spaced.parameters == ["realm": "r", "error": "insufficient_scope", "scope": "a,b"])
        #expect(AuthChallenge(header: "") == nil)
    }

    @Test("docker config.json: auth fields, Docker Hub's key, scheme and path in keys, bad base64")
    func dockerConfig() throws {
        func b64(_ s: String) -> String { Data(s.utf8).base64EncodedString() }
        let json = """
            {"auths":{"https://index.docker.io/v1/":{"auth":"\(b64("hubuser:hub:pass"))"},
                      "http://127.0.0.1:5556/v2/":{"auth":"\(b64("u:p"))"},
                      "ghcr.io":{"username":"gh","password":"tok"},
                      "empty.example":{}},
             "credsStore":"desktop"}
            """
        let creds = try RegistryCredentials.parse(Data(json.utf8), source: "/x/config.json")
        #expect(creds.credential(for: "docker.io") == RegistryCredential(username: "hubuser", password: "hub:pass"))
        #expect(creds.credential(for: "127.0.0.1:5556") == RegistryCredential(username: "u", password: "p"))
        #expect(creds.credential(for: "ghcr.io")?.password == "tok")
        #expect(creds.credential(for: "empty.example") == nil)
        #expect(creds.credential(for: "quay.io") == nil)

        #expect(throws: RegistryError.credentials("/x/config.json", "auths[\"a.io\"].auth is not base64 of \"user:password\"")) {
            try RegistryCredentials.parse(Data(#"{"auths":{"a.io":{"auth":"bm9jb2xvbg=="}}}"#.utf8), source: "/x/config.json")
        }
        #expect(throws: RegistryError.self) { try RegistryCredentials.parse(Data("{".utf8), source: "/x/config.json") }

        // No file: no credentials. $DOCKER_CONFIG wins over $HOME.
        let dir = try OCITestKit.temporaryDirectory("home")
        defer { OCITestKit.remove(dir) }
        #expect(try RegistryCredentials.fromDockerConfig(environment: ["HOME": dir.path]).byRegistry.isEmpty)
        try FileManager.default.createDirectory(at: dir.appendingPathComponent(".docker"), withIntermediateDirectories: true)
        try Data(#"{"auths":{"h.io":{"auth":"\#(b64("home:1"))"}}}"#.utf8).write(to: dir.appendingPathComponent(".docker/config.json"))
        #expect(try RegistryCredentials.fromDockerConfig(environment: ["HOME": dir.path]).credential(for: "h.io")?.username == "home")
        #expect(try RegistryCredentials.fromDockerConfig(environment: ["HOME": dir.path, "DOCKER_CONFIG": dir.appendingPathComponent("none").path])
            .byRegistry.isEmpty)
    }

    @Test("backoff doubles up to the cap; Retry-After is honoured within it; retryable statuses")
    func backoff() {
        let p = RetryPolicy(maxAttempts: 6, initialDelay: .milliseconds(100), maximumDelay: .milliseconds(500))
        #expect((1...5).map { p.delay(beforeRetry: $0, retryAfterSeconds: nil) }
            == [.milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(500), .milliseconds(500)])
        #expect(p.delay(beforeRetry: 1, retryAfterSeconds: 0) == .zero)
        #expect(p.delay(beforeRetry: 1, retryAfterSeconds: 60) == .milliseconds(500))
        #expect([429, 500, 502, 503, 504].allSatisfy(RetryPolicy.isRetryable(status:)))
        #expect(![200, 400, 401, 403, 404, 501].contains(where: RetryPolicy.isRetryable(status:)))
    }
}
