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
    func dockerConfig() async throws {
        func b64(_ s: String) -> String { Data(s.utf8).base64EncodedString() }
        let json = """
            {"auths":{"https://index.docker.io/v1/":{"auth":"\(b64("hubuser:hub:pass"))"},
                      "http://127.0.0.1:5556/v2/":{"auth":"\(b64("u:p"))"},
                      "ghcr.io":{"username":"gh","password":"tok"},
                      "empty.example":{}}}
            """
        let creds = try RegistryCredentials.parse(Data(json.utf8), source: "/x/config.json")
        #expect(try await creds.credential(for: "docker.io") == RegistryCredential(username: "hubuser", password: "hub:pass"))
        #expect(try await creds.credential(for: "127.0.0.1:5556") == RegistryCredential(username: "u", password: "p"))
        #expect(try await creds.credential(for: "ghcr.io")?.password == "tok")
        #expect(try await creds.credential(for: "empty.example") == nil)
        #expect(try await creds.credential(for: "quay.io") == nil)

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
        #expect(try await RegistryCredentials.fromDockerConfig(environment: ["HOME": dir.path]).credential(for: "h.io")?.username == "home")
        #expect(try RegistryCredentials.fromDockerConfig(environment: ["HOME": dir.path, "DOCKER_CONFIG": dir.appendingPathComponent("none").path])
            .byRegistry.isEmpty)
    }

    @Test("credential helpers: Docker's order (credHelpers, then credsStore, then auths); Docker Hub's server URL")
    func helperOrder() throws {
        func b64(_ s: String) -> String { Data(s.utf8).base64EncodedString() }
        let json = """
            {"auths":{"a.io":{"auth":"\(b64("a:1"))"},"b.io":{"auth":"\(b64("b:2"))"}},
             "credHelpers":{"https://B.io/v2/":"gcr","https://index.docker.io/v1/":"hub"}}
            """
        let creds = try RegistryCredentials.parse(Data(json.utf8), source: "/x/config.json", environment: [:])
        #expect(creds.credentialHelpers == ["b.io": "gcr", "docker.io": "hub"])
        #expect(creds.credentialStore == nil)
        #expect(creds.helper(for: "a.io") == nil && creds.helper(for: "b.io") == "gcr" && creds.helper(for: "docker.io") == "hub")
        #expect(creds.origin(for: "b.io") == "docker-credential-gcr" && creds.origin(for: "a.io") == "/x/config.json")
        var stored = creds
        stored.credentialStore = "desktop"
        #expect(stored.helper(for: "a.io") == "desktop" && stored.helper(for: "b.io") == "gcr")
        let empty = try RegistryCredentials.parse(Data(#"{"credsStore":""}"#.utf8), source: "/x/config.json", environment: [:])
        #expect(empty.credentialStore == nil)
        #expect(CredentialHelper.serverURL(for: "docker.io") == "https://index.docker.io/v1/")
        #expect(CredentialHelper.serverURL(for: "127.0.0.1:5556") == "127.0.0.1:5556")
    }

    @Test("token scopes: the challenge's and a push's merged per repository; upload Range offsets; registry errors in words")
    func pushPieces() throws {
        let ref = try ImageReference(parsing: "r.io/a/b:1")
        #expect(RegistryClient.tokenScopes(challenge: nil, extra: [], repository: "a/b") == ["repository:a/b:pull"])
        #expect(RegistryClient.tokenScopes(challenge: "repository:a/b:pull", extra: RegistryClient.pushScopes(ref, mountingFrom: "c/d"),
                                           repository: "a/b")
            == ["repository:a/b:pull,push", "repository:c/d:pull"])
        #expect(RegistryClient.tokenScopes(challenge: "repository:x:push repository:y:pull registry:catalog:*", extra: [], repository: "x")
            == ["repository:x:push", "repository:y:pull", "registry:catalog:*"])
        #expect(RegistryClient.uploadOffset("0-65535") == 65536)
        #expect(RegistryClient.uploadOffset("bytes=0-99") == 100)
        #expect(RegistryClient.uploadOffset("0-0") == 0)
        #expect(RegistryClient.uploadOffset("5-9") == nil && RegistryClient.uploadOffset("junk") == nil)
        let body = #"{"errors":[{"code":"MANIFEST_BLOB_UNKNOWN","message":"blob unknown to registry","detail":"sha256:ab"},"#
            + #"{"code":"DENIED","message":"no","detail":{"digest":"sha256:cd"}}]}"#
        #expect(RegistryError.registrySays(body)
            == "MANIFEST_BLOB_UNKNOWN: blob unknown to registry (sha256:ab); DENIED: no (digest=sha256:cd)")
        #expect(RegistryError.registrySays("plain words") == "plain words")
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
