import Foundation
import Testing

@testable import PlanOCI

/// Pulls from the real reference registries that scripts/test-registry starts and fills:
/// open on $PLAN_TEST_REGISTRY, basic auth on $PLAN_TEST_AUTH_REGISTRY. They must be running
/// (`scripts/test-registry start`); if not, these tests fail.
@Suite("Registry pulls (reference registry)")
struct RegistryPullTests {
    static func client(credentials: RegistryCredentials = .none) -> RegistryClient {
        RegistryClient(configuration: .init(
            insecureRegistries: [OCITestKit.registry, OCITestKit.authRegistry], credentials: credentials,
            retry: RetryPolicy(maxAttempts: 3, initialDelay: .milliseconds(50))))
    }

    static func withStore<T>(_ body: (ContentStore) async throws -> T) async throws -> T {
        let dir = try OCITestKit.temporaryDirectory("store")
        defer { OCITestKit.remove(dir) }
        return try await body(try ContentStore(root: dir))
    }

    /// What skopeo says the manifest of a reference is (the truth to compare with).
    static func skopeoRaw(_ ref: String, creds: String? = nil) throws -> Data {
        var args = ["inspect", "--tls-verify=false", "--raw"]
        if let creds { args += ["--creds", creds] }
        return Data(try OCITestKit.run("skopeo", args + ["docker://\(ref)"]).utf8)
    }

    @Test("pull by tag, OCI and Docker v2 manifests", arguments: ["stable", "stable-docker"])
    func pullByTag(_ tag: String) async throws {
        let text = "\(OCITestKit.registry)/plan-test/busybox:\(tag)"
        let truth = try Self.skopeoRaw(text)
        let client = Self.client()
        try await Self.withStore { store in
            let pulled = try await client.pull(try ImageReference(parsing: text), into: store)
            #expect(pulled.manifestDescriptor.digest == Digest.sha256(of: truth))
            #expect(pulled.manifestDescriptor.mediaType == (tag == "stable" ? .ociManifest : .dockerManifest))
            #expect(pulled.configuration.os == "linux")
            #expect(pulled.configuration.config?.cmd == ["sh"])
            #expect(pulled.configuration.rootfs.diffIDs.count == pulled.manifest.layers.count)
            #expect(pulled.downloadedBlobs == 1 + pulled.manifest.layers.count)
            for blob in [pulled.manifest.config] + pulled.manifest.layers {
                #expect(store.contains(blob.digest))
                #expect(store.size(of: blob.digest) == blob.size)
                #expect(try store.data(for: blob.digest, verify: true).count == Int(blob.size))
            }
            #expect(try store.data(for: pulled.manifestDescriptor.digest) == truth)
            #expect(try store.digest(for: pulled.reference) == pulled.manifestDescriptor.digest)
            #expect(store.temporaryFiles().isEmpty)
            // Pulled again: nothing downloaded.
            let again = try await client.pull(try ImageReference(parsing: text), into: store)
            #expect(again.downloadedBlobs == 0 && again.manifestDescriptor == pulled.manifestDescriptor)
        }
    }

    @Test("pull by digest, and by tag+digest")
    func pullByDigest() async throws {
        let base = "\(OCITestKit.registry)/plan-test/busybox"
        let digest = Digest.sha256(of: try Self.skopeoRaw("\(base):stable-docker"))
        let client = Self.client()
        try await Self.withStore { store in
            let pulled = try await client.pull(try ImageReference(parsing: "\(base)@\(digest)"), into: store)
            #expect(pulled.manifestDescriptor.digest == digest)
            #expect(pulled.reference.tag == nil)
            let both = try await client.pull(try ImageReference(parsing: "\(base):stable@\(digest)"), into: store)
            // The digest wins over the tag (stable is the OCI manifest, the digest the Docker one).
            #expect(both.manifestDescriptor.digest == digest && both.downloadedBlobs == 0)
            let keys = try store.references().keys.sorted()
            #expect(keys == ["\(base):stable@\(digest)", "\(base)@\(digest)"], "\(keys)")
        }
    }

    @Test("an unknown tag and an unknown repository are not-found errors")
    func notFound() async throws {
        let client = Self.client()
        try await Self.withStore { store in
            for text in ["\(OCITestKit.registry)/plan-test/busybox:no-such-tag", "\(OCITestKit.registry)/plan-test/nothing:1"] {
                await #expect {
                    try await client.pull(try ImageReference(parsing: text), into: store)
                } throws: { error in
                    guard case .notFound(let what, _) = error as? RegistryError else { return false }
                    return what.contains("manifest")
                }
            }
            #expect(store.digests().isEmpty)
        }
    }

    @Test("platform choice from an OCI index and a Docker manifest list", arguments: ["1", "1-docker"])
    func platformChoice(_ tag: String) async throws {
        let text = "\(OCITestKit.registry)/plan-test/multi:\(tag)"
        struct List: Decodable { var manifests: [Descriptor] }
        let list = try JSONDecoder().decode(List.self, from: try Self.skopeoRaw(text))
        let client = Self.client()
        try await Self.withStore { store in
            let ref = try ImageReference(parsing: text)
            for (platform, arch) in [("linux/amd64", "amd64"), ("linux/arm64", "arm64"), ("linux/aarch64", "arm64")] {
                let pulled = try await client.pull(ref, platform: try Platform(parsing: platform), into: store)
                #expect(pulled.configuration.architecture == arch, "\(platform)")
                #expect(pulled.index != nil)
                let expected = list.manifests.first { $0.platform?.architecture == arch }?.digest
                #expect(pulled.manifestDescriptor.digest == expected, "\(platform)")
                #expect(pulled.resolvedDescriptor.mediaType == (tag == "1" ? .ociIndex : .dockerManifestList))
                #expect(try store.digest(for: ref) == pulled.resolvedDescriptor.digest)
            }
            // The default is the host's platform.
            #expect(try await client.pull(ref, into: store).configuration.architecture == Platform.host.architecture)
            await #expect {
                try await client.pull(ref, platform: try Platform(parsing: "linux/s390x"), into: store)
            } throws: { error in
                guard case .noMatchingPlatform(_, _, let have) = error as? RegistryError else { return false }
                return Set(have.map(\.architecture)) == ["amd64", "arm64"]
                    && String(describing: error).contains("linux/s390x")
            }
        }
    }

    static func dockerConfig(user: String, password: String, key: String) throws -> URL {
        let dir = try OCITestKit.temporaryDirectory("docker-config")
        let auth = Data("\(user):\(password)".utf8).base64EncodedString()
        let json = #"{"auths":{"\#(key)":{"auth":"\#(auth)"},"https://index.docker.io/v1/":{"auth":"\#(Data("hub:x".utf8).base64EncodedString())"}}}"#
        try Data(json.utf8).write(to: dir.appendingPathComponent("config.json"))
        return dir
    }

    @Test("pull with basic auth, credentials from $DOCKER_CONFIG/config.json")
    func basicAuth() async throws {
        let config = try Self.dockerConfig(user: OCITestKit.authUser, password: OCITestKit.authPassword, key: OCITestKit.authRegistry)
        defer { OCITestKit.remove(config) }
        let credentials = try RegistryCredentials.fromDockerConfig(environment: ["DOCKER_CONFIG": config.path])
        #expect(try await credentials.credential(for: OCITestKit.authRegistry)?.username == OCITestKit.authUser)
        #expect(try await credentials.credential(for: "docker.io")?.username == "hub")
        let text = "\(OCITestKit.authRegistry)/plan-test/busybox:stable"
        let truth = try Self.skopeoRaw(text, creds: "\(OCITestKit.authUser):\(OCITestKit.authPassword)")
        let client = Self.client(credentials: credentials)
        try await Self.withStore { store in
            let pulled = try await client.pull(try ImageReference(parsing: text), into: store)
            #expect(pulled.manifestDescriptor.digest == Digest.sha256(of: truth))
            #expect(pulled.downloadedBlobs == 1 + pulled.manifest.layers.count)
            let multi = try await client.pull(
                try ImageReference(parsing: "\(OCITestKit.authRegistry)/plan-test/multi:1"),
                platform: try Platform(parsing: "linux/arm64"), into: store)
            #expect(multi.configuration.architecture == "arm64")
        }
    }

    @Test("a wrong password fails clearly and stores nothing; no credentials fails too")
    func wrongPassword() async throws {
        let config = try Self.dockerConfig(user: OCITestKit.authUser, password: "wrong", key: "http://\(OCITestKit.authRegistry)/v2/")
        defer { OCITestKit.remove(config) }
        let credentials = try RegistryCredentials.fromDockerConfig(environment: ["DOCKER_CONFIG": config.path])
        let ref = try ImageReference(parsing: "\(OCITestKit.authRegistry)/plan-test/busybox:stable")
        let client = Self.client(credentials: credentials)
        try await Self.withStore { store in
            await #expect {
                try await client.pull(ref, into: store)
            } throws: { error in
                guard case .unauthorized(let registry, let detail) = error as? RegistryError else { return false }
                return registry == OCITestKit.authRegistry && detail.contains("refused the credentials of user \"\(OCITestKit.authUser)\"")
                    && detail.contains(config.path) && detail.contains("401")
            }
            #expect(store.digests().isEmpty && store.temporaryFiles().isEmpty)
        }

        let anonymous = Self.client()
        try await Self.withStore { store in
            await #expect(throws: RegistryError.credentialsRequired(OCITestKit.authRegistry, "Basic")) {
                try await anonymous.pull(ref, into: store)
            }
        }
    }

    @Test("a pulled image exported from the store as an OCI layout: skopeo and umoci read it")
    func exportToLayout() async throws {
        let work = try OCITestKit.temporaryDirectory("export")
        defer { OCITestKit.remove(work) }
        let store = try ContentStore(root: work.appendingPathComponent("store"))
        let ref = try ImageReference(parsing: "\(OCITestKit.registry)/plan-test/multi:1")
        let pulled = try await Self.client().pull(ref, platform: try Platform(parsing: "linux/amd64"), into: store)
        let layout = try OCILayout.create(at: work.appendingPathComponent("layout"))
        try layout.copyImage(pulled.manifestDescriptor, from: store, name: "busybox")
        let raw = try OCITestKit.run("skopeo", ["inspect", "--raw", "oci:\(layout.root.path):busybox"])
        #expect(Digest.sha256(of: Data(raw.utf8)) == pulled.manifestDescriptor.digest)
        let bundle = work.appendingPathComponent("bundle")
        try OCITestKit.run("umoci", ["unpack", "--rootless", "--image", "\(layout.root.path):busybox", bundle.path])
        #expect(FileManager.default.isExecutableFile(atPath: bundle.appendingPathComponent("rootfs/bin/busybox").path))
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: bundle.appendingPathComponent("rootfs/bin/sh").path) == "/bin/busybox")
    }
}
