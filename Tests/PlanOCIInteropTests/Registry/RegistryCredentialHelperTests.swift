import Foundation
import PlanTestKit
import Testing

@testable import PlanOCI

/// Credential helpers (`credHelpers`, `credsStore` of docker's config.json) against the basic-auth
/// reference registry: scripts speaking the docker-credential-helpers protocol, in a temporary
/// directory put on the PATH the credentials are given (the test process's environment is not touched).
@Suite("Registry credential helpers (reference registry)")
struct RegistryCredentialHelperTests {
    /// A temporary DOCKER_CONFIG folder with `config` as config.json, and a bin folder for helpers.
    struct Setup {
        let dir: URL
        var bin: URL { dir.appendingPathComponent("bin") }
        var runs: URL { dir.appendingPathComponent("runs.log") }

        init(config: String) throws {
            dir = try OCITestKit.temporaryDirectory("credhelper")
            try FileManager.default.createDirectory(at: dir.appendingPathComponent("bin"), withIntermediateDirectories: true)
            try Data(config.utf8).write(to: dir.appendingPathComponent("config.json"))
        }

        /// Writes `docker-credential-NAME`, a shell script with `body` after a line logging each run.
        func helper(_ name: String, _ body: String) throws {
            let url = bin.appendingPathComponent("docker-credential-\(name)")
            try Data("#!/bin/sh\necho \"$*\" >> '\(runs.path)'\n\(body)\n".utf8).write(to: url)
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: url.path)
        }

        /// The answering helper: the test registry's credentials for exactly its server URL.
        func goodHelper(_ name: String, password: String = OCITestKit.authPassword) throws {
            try helper(name, """
                [ "$1" = get ] || exit 2
                read -r server
                if [ "$server" = "\(OCITestKit.authRegistry)" ]; then
                    printf '{"ServerURL":"%s","Username":"%s","Secret":"%s"}\\n' "$server" "\(OCITestKit.authUser)" "\(password)"
                else
                    echo "credentials not found in native keychain"; exit 1
                fi
                """)
        }

        /// The helper runs logged so far.
        func runCount() -> Int {
            ((try? String(contentsOf: runs, encoding: .utf8)) ?? "").split(separator: "\n").count
        }

        func credentials() throws -> RegistryCredentials {
            var environment = OCITestKit.environment
            environment["DOCKER_CONFIG"] = dir.path
            environment["PATH"] = bin.path + ":" + (environment["PATH"] ?? "/usr/bin:/bin")
            return try RegistryCredentials.fromDockerConfig(environment: environment)
        }

        func remove() { OCITestKit.remove(dir) }
    }

    static func image(in dir: URL) throws -> RegistryPushTests.TestImage {
        try RegistryPushTests.makeImage(in: dir, layers: [["helper.txt": "helper\n"], ["two.txt": "two\n"]])
    }

    static func ref(_ what: String, registry: String = OCITestKit.authRegistry) throws -> ImageReference {
        try ImageReference(parsing: "\(registry)/\(RegistryPushTests.repository(what)):v1")
    }

    @Test("a credHelpers helper gives the credentials: push and pull work, and it runs once per client")
    func helperCredentials() async throws {
        let setup = try Setup(config: #"{"credHelpers":{"\#(OCITestKit.authRegistry)":"plantest"}}"#)
        defer { setup.remove() }
        try setup.goodHelper("plantest")
        let image = try Self.image(in: setup.dir)
        let client = RegistryPushTests.client(credentials: try setup.credentials())
        #expect(setup.runCount() == 0)  // nothing runs before a registry asks
        let ref = try Self.ref("helper")
        let pushed = try await client.push(image.image, to: ref)
        #expect(pushed.uploaded == 3)
        let store = try ContentStore(root: setup.dir.appendingPathComponent("store"))
        let pulled = try await client.pull(ref, into: store)
        #expect(pulled.manifestDescriptor.digest == image.digest)
        // Three blobs pushed at once all met the challenge; the helper ran once, as `get`.
        #expect(try String(contentsOf: setup.runs, encoding: .utf8) == "get\n")
        // Another client asks again.
        _ = try await RegistryPushTests.client(credentials: try setup.credentials()).push(image.image, to: ref)
        #expect(setup.runCount() == 2)
        let creds = "\(OCITestKit.authUser):\(OCITestKit.authPassword)"
        #expect(Digest.sha256(of: try RegistryPushTests.skopeoRaw(ref.description, creds: creds)) == image.digest)
    }

    @Test("Docker's order: credHelpers over credsStore over auths; a helper runs only for a registry that asks")
    func order() async throws {
        let wrongAuth = Data("\(OCITestKit.authUser):wrong".utf8).base64EncodedString()
        // credHelpers wins over a broken credsStore and a wrong auths entry.
        do {
            let setup = try Setup(config: """
                {"auths":{"\(OCITestKit.authRegistry)":{"auth":"\(wrongAuth)"}},"credsStore":"absent",
                 "credHelpers":{"\(OCITestKit.authRegistry)":"plantest"}}
                """)
            defer { setup.remove() }
            try setup.goodHelper("plantest")
            let image = try Self.image(in: setup.dir)
            #expect(try await RegistryPushTests.client(credentials: try setup.credentials()).push(image.image, to: try Self.ref("order-1")).uploaded == 3)
        }
        // credsStore wins over auths (Docker reads no auths entry once a store is set).
        let setup = try Setup(config: #"{"auths":{"\#(OCITestKit.authRegistry)":{"auth":"\#(wrongAuth)"}},"credsStore":"plantest"}"#)
        defer { setup.remove() }
        try setup.goodHelper("plantest")
        let image = try Self.image(in: setup.dir)
        let credentials = try setup.credentials()
        #expect(credentials.helper(for: OCITestKit.authRegistry) == "plantest")
        #expect(try await RegistryPushTests.client(credentials: credentials).push(image.image, to: try Self.ref("order-2")).uploaded == 3)
        // The open registry asks for nothing: the store is not run for it.
        let runs = setup.runCount()
        #expect(try await RegistryPushTests.client(credentials: credentials).push(
            image.image, to: try Self.ref("order-open", registry: OCITestKit.registry)).uploaded == 3)
        #expect(setup.runCount() == runs)
    }

    @Test("a missing helper, one printing junk, one that hangs: clear errors naming the helper; no manifest")
    func brokenHelpers() async throws {
        let setup = try Setup(config: """
            {"credHelpers":{"\(OCITestKit.authRegistry)":"missing"}}
            """)
        defer { setup.remove() }
        let image = try Self.image(in: setup.dir)
        let ref = try Self.ref("broken")
        await #expect {
            try await RegistryPushTests.client(credentials: try setup.credentials()).push(image.image, to: ref)
        } throws: { error in
            guard case .credentials(let program, let why) = error as? RegistryError else { return false }
            return program == "docker-credential-missing" && why.contains("not on PATH") && why.contains(OCITestKit.authRegistry)
        }

        try setup.helper("junk", "echo 'this is not JSON, sorry'")
        var junk = try setup.credentials()
        junk.credentialHelpers = [OCITestKit.authRegistry: "junk"]
        await #expect {
            try await RegistryPushTests.client(credentials: junk).push(image.image, to: ref)
        } throws: { error in
            guard case .credentials(let program, let why) = error as? RegistryError else { return false }
            return program == "docker-credential-junk" && why.contains("this is not JSON, sorry")
        }

        try setup.helper("failing", "echo 'keychain locked' >&2; exit 3")
        var failing = try setup.credentials()
        failing.credentialHelpers = [OCITestKit.authRegistry: "failing"]
        await #expect {
            try await RegistryPushTests.client(credentials: failing).push(image.image, to: ref)
        } throws: { error in
            guard case .credentials(let program, let why) = error as? RegistryError else { return false }
            return program == "docker-credential-failing" && why.contains("status 3") && why.contains("keychain locked")
        }

        let pidFile = setup.dir.appendingPathComponent("hanging.pid")
        try setup.helper("hanging", "echo $$ > '\(pidFile.path)'\nexec sleep 600")
        var hanging = try setup.credentials()
        hanging.credentialHelpers = [OCITestKit.authRegistry: "hanging"]
        hanging.helperTimeout = .seconds(1)
        await #expect {
            try await RegistryPushTests.client(credentials: hanging).push(image.image, to: ref)
        } throws: { error in
            guard case .credentials(let program, let why) = error as? RegistryError else { return false }
            return program == "docker-credential-hanging" && why.contains("no answer within 1 s")
        }
        // Killed, not waited for (and reaped: the pid is gone).
        let pid = try #require(Int32(String(contentsOf: pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(kill(pid, 0) == -1 && errno == ESRCH)
        #expect(await RegistryPushTests.noManifest(ref, client: RegistryPushTests.client(credentials: RegistryCredentials(byRegistry: [
            OCITestKit.authRegistry: RegistryCredential(username: OCITestKit.authUser, password: OCITestKit.authPassword),
        ]))))
    }

    @Test("a helper without a credential for the registry means anonymous: credentialsRequired")
    func notFound() async throws {
        let setup = try Setup(config: #"{"credsStore":"empty"}"#)
        defer { setup.remove() }
        try setup.helper("empty", "echo 'credentials not found in native keychain'; exit 1")
        let image = try Self.image(in: setup.dir)
        await #expect(throws: RegistryError.credentialsRequired(OCITestKit.authRegistry, "Basic")) {
            try await RegistryPushTests.client(credentials: try setup.credentials()).push(image.image, to: try Self.ref("notfound"))
        }
        // A wrong password from a helper is refused as any other, naming where it came from.
        try setup.goodHelper("wrongpass", password: "wrong")
        var wrong = try setup.credentials()
        wrong.credentialStore = "wrongpass"
        await #expect {
            try await RegistryPushTests.client(credentials: wrong).push(image.image, to: try Self.ref("wrongpass"))
        } throws: { error in
            guard case .unauthorized(_, let detail) = error as? RegistryError else { return false }
            return detail.contains("docker-credential-wrongpass")
        }
    }

    @Test("a helper's <token> answer is an identity token: kept as one, and refused by a Basic registry with a clear error")
    func identityTokenAnswer() async throws {
        let setup = try Setup(config: #"{"credsStore":"oauth"}"#)
        defer { setup.remove() }
        try setup.helper("oauth", #"read -r server; printf '{"ServerURL":"%s","Username":"<token>","Secret":"refresh-me"}\n' "$server""#)
        let credentials = try setup.credentials()
        let credential = try await credentials.credential(for: OCITestKit.authRegistry)
        #expect(credential?.identityToken == "refresh-me" && credential?.password == "")
        // The test registry takes Basic only: an identity token cannot be used there, and plan says so.
        let image = try Self.image(in: setup.dir)
        await #expect {
            try await RegistryPushTests.client(credentials: credentials).push(image.image, to: try Self.ref("oauth"))
        } throws: { error in
            guard case .unauthorized(_, let detail) = error as? RegistryError else { return false }
            return detail.contains("identity token") && detail.contains("docker-credential-oauth") && detail.contains("Basic")
        }
    }
}
