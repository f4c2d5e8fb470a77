import Foundation
import Testing

@testable import PlanOCI

/// Registry client behaviour that the reference registry cannot be made to show: lying blobs,
/// transient errors, dropped connections, Bearer tokens, and request counts.
@Suite("Registry client against a fake registry")
struct FakeRegistryTests {
    static func setUp(_ options: (FakeImage) -> [String] = { _ in [] }) throws -> (URL, FakeImage, FakeRegistry, ContentStore) {
        let work = try OCITestKit.temporaryDirectory("fake")
        let image = try FakeImage(at: work.appendingPathComponent("layout"), work: work)
        let server = try FakeRegistry(layout: image.layout.root, options: options(image), work: work)
        let store = try ContentStore(root: work.appendingPathComponent("store"))
        return (work, image, server, store)
    }

    @Test("a blob whose bytes do not match its digest is rejected and leaves nothing in the store")
    func lyingBlob() async throws {
        let (work, image, server, store) = try Self.setUp { ["--lie", $0.layers[0].digest.description] }
        defer { server.stop(); OCITestKit.remove(work) }
        let client = server.client()
        await #expect {
            try await client.pull(try server.reference("1"), into: store)
        } throws: { error in
            guard case .digestMismatch(_, let expected, let actual) = error as? RegistryError else { return false }
            return expected == image.layers[0].digest && actual != expected
        }
        #expect(!store.contains(image.layers[0].digest))
        #expect(store.temporaryFiles().isEmpty)
        // Whatever else was fetched (layers download in parallel) is complete and verified.
        for digest in store.digests() { #expect(try store.data(for: digest, verify: true).count > 0) }
        #expect(try store.references().isEmpty)
        // Not retried: a lie is not a transient failure.
        #expect(server.blobRequests().filter { $0.contains(image.layers[0].digest.encoded) }.count == 1)
    }

    @Test("429 and 500 are retried with backoff, then the pull succeeds")
    func transientErrors() async throws {
        let (work, image, server, store) = try Self.setUp {
            ["--fail", "2:429:/manifests/", "--fail", "1:500:\($0.layers[1].digest.encoded)", "--fail", "1:503:/blobs/"]
        }
        defer { server.stop(); OCITestKit.remove(work) }
        let client = server.client()
        let pulled = try await client.pull(try server.reference("1"), into: store)
        #expect(pulled.manifestDescriptor.digest == image.written.manifestDescriptor.digest)
        #expect(pulled.downloadedBlobs == 3)
        let log = server.requests()
        #expect(log.filter { $0.hasSuffix(" 429") }.count == 2)
        #expect(log.filter { $0.hasSuffix(" 500") }.count == 1)
        #expect(log.filter { $0.hasSuffix(" 503") }.count == 1)
        for blob in [image.written.manifest.config] + image.layers {
            #expect(try store.data(for: blob.digest, verify: true).count == Int(blob.size))
        }
    }

    @Test("retries are bounded: a registry that keeps failing gives up with the last status")
    func retriesExhausted() async throws {
        let (work, _, server, store) = try Self.setUp { _ in ["--fail", "100:502:/manifests/"] }
        defer { server.stop(); OCITestKit.remove(work) }
        let client = server.client(attempts: 3)
        await #expect {
            try await client.pull(try server.reference("1"), into: store)
        } throws: { error in
            guard case .retriesExhausted(_, let attempts, let last) = error as? RegistryError else { return false }
            return attempts == 3 && last.contains("HTTP 502")
        }
        #expect(server.requests().count == 3)
    }

    @Test("a connection dropped in the middle of a blob is retried; the partial download is discarded")
    func droppedConnection() async throws {
        let (work, image, server, store) = try Self.setUp { ["--drop", "1:\($0.layers[0].digest.encoded)"] }
        defer { server.stop(); OCITestKit.remove(work) }
        let client = server.client()
        let pulled = try await client.pull(try server.reference("1"), into: store)
        #expect(pulled.downloadedBlobs == 3)
        #expect(server.requests().contains { $0.hasSuffix(" dropped") })
        #expect(server.blobRequests().filter { $0.contains(image.layers[0].digest.encoded) }.count == 2)
        #expect(try store.data(for: image.layers[0].digest, verify: true).count == Int(image.layers[0].size))
        #expect(store.temporaryFiles().isEmpty)
    }

    @Test("a second pull of a stored image sends no blob request; by digest, no request at all")
    func secondPull() async throws {
        let (work, image, server, store) = try Self.setUp()
        defer { server.stop(); OCITestKit.remove(work) }
        let client = server.client()
        let first = try await client.pull(try server.reference("1"), into: store)
        #expect(first.downloadedBlobs == 3)
        #expect(server.blobRequests().count == 3)

        try server.clearLog()
        let second = try await client.pull(try server.reference("1"), into: store)
        #expect(second.downloadedBlobs == 0)
        #expect(server.blobRequests().isEmpty)
        #expect(server.requests() == ["HEAD /v2/test/app/manifests/1 200"])

        try server.clearLog()
        let pinned = try server.reference("1").with(digest: image.written.manifestDescriptor.digest)
        let third = try await client.pull(pinned, into: store)
        #expect(third.manifestDescriptor.digest == first.manifestDescriptor.digest)
        #expect(server.requests().isEmpty)
    }

    @Test("Bearer token auth: anonymous token, then basic credentials for the token; wrong ones refused")
    func bearer() async throws {
        // Anonymous token server.
        do {
            let (work, _, server, store) = try Self.setUp { _ in ["--bearer", "-"] }
            defer { server.stop(); OCITestKit.remove(work) }
            let client = server.client()
            let pulled = try await client.pull(try server.reference("1"), into: store)
            #expect(pulled.downloadedBlobs == 3)
            let log = server.requests()
            #expect(log.first?.hasSuffix(" 401") == true)
            // One token for the whole pull: it is cached per repository.
            #expect(log.filter { $0.hasPrefix("GET /token") }.count == 1)
            #expect(log.first { $0.hasPrefix("GET /token") }?.contains("scope=repository%3Atest/app%3Apull") == true
                || log.first { $0.hasPrefix("GET /token") }?.contains("scope=repository:test/app:pull") == true)
        }
        // Token server that wants basic credentials.
        let (work, _, server, store) = try Self.setUp { _ in ["--bearer", "alice:s3cret"] }
        defer { server.stop(); OCITestKit.remove(work) }
        let good = server.client(credentials: RegistryCredentials(byRegistry: [server.host: .init(username: "alice", password: "s3cret")]))
        #expect(try await good.pull(try server.reference("1"), into: store).downloadedBlobs == 3)
        let bad = server.client(credentials: RegistryCredentials(byRegistry: [server.host: .init(username: "alice", password: "nope")]))
        let otherStore = try ContentStore(root: work.appendingPathComponent("store2"))
        await #expect {
            try await bad.pull(try server.reference("1"), into: otherStore)
        } throws: { error in
            guard case .unauthorized(_, let detail) = error as? RegistryError else { return false }
            return detail.contains("user \"alice\"") && detail.contains("401")
        }
        #expect(otherStore.digests().isEmpty)
    }

    @Test("a push asks the token server once, up front, for pull,push scope; a pull-only token may not push")
    func bearerPush() async throws {
        let (work, image, server, _) = try Self.setUp { _ in ["--bearer", "-"] }
        defer { server.stop(); OCITestKit.remove(work) }
        let client = server.client()
        let pushable = try PushableImage(layout: image.layout, root: image.written.manifestDescriptor)
        let result = try await client.push(pushable, to: try server.reference("2"))
        #expect(result.present == 3 && result.uploaded == 0)
        let log = server.requests()
        let tokens = log.filter { $0.hasPrefix("GET /token") }
        #expect(tokens.count == 1)
        #expect(tokens.first.map { $0.contains("pull,push") || $0.contains("pull%2Cpush") } == true)
        #expect(log.contains("PUT /v2/test/app/manifests/2 201"))
        #expect(!log.contains { $0.hasPrefix("PUT ") && $0.hasSuffix(" 401") })
    }

    @Test("an identity token (docker config identitytoken, or a helper's <token>) is exchanged by an OAuth2 POST, never sent as a password")
    func identityToken() async throws {
        let (work, image, server, store) = try Self.setUp { _ in ["--bearer", "-", "--identity-token", "refresh+/me=="] }
        defer { server.stop(); OCITestKit.remove(work) }
        // From config.json, as `docker login` writes it for an OAuth2 registry.
        let config = Data("""
            {"auths": {"\(server.host)": {"auth": "\(Data("alice:".utf8).base64EncodedString())", "identitytoken": "refresh+/me=="}}}
            """.utf8)
        let credentials = try RegistryCredentials.parse(config, source: "config.json", environment: [:])
        #expect(await (try? credentials.credential(for: server.host))??.identityToken == "refresh+/me==")
        let client = server.client(credentials: credentials)
        #expect(try await client.pull(try server.reference("1"), into: store).downloadedBlobs == 3)
        let pushable = try PushableImage(layout: image.layout, root: image.written.manifestDescriptor)
        #expect(try await client.push(pushable, to: try server.reference("2")).present == 3)
        let log = server.requests()
        #expect(log.contains("POST /token 200"), "\(log)")
        #expect(!log.contains { $0.hasPrefix("GET /token") }, "\(log)")
        #expect(log.contains("PUT /v2/test/app/manifests/2 201"), "the exchanged token carries the push scope: \(log)")

        // A wrong identity token is refused clearly, naming it as such.
        let wrong = server.client(credentials: RegistryCredentials(byRegistry: [server.host: .identityToken("stale")]))
        let otherStore = try ContentStore(root: work.appendingPathComponent("store2"))
        await #expect {
            try await wrong.pull(try server.reference("1"), into: otherStore)
        } throws: { error in
            guard case .unauthorized(_, let detail) = error as? RegistryError else { return false }
            return detail.contains("identity token refused")
        }
    }

    @Test("Accept names both manifest families; the Docker-Content-Digest header is checked")
    func acceptAndDigestHeader() async throws {
        let (work, image, server, _) = try Self.setUp()
        defer { server.stop(); OCITestKit.remove(work) }
        let client = server.client()
        let fetched = try await client.fetchManifest(try server.reference("1"))
        #expect(fetched.digest == image.written.manifestDescriptor.digest)
        #expect(fetched.mediaType == .ociManifest)
        #expect(MediaType.manifestAccept.map(\.rawValue) == [
            "application/vnd.oci.image.index.v1+json", "application/vnd.oci.image.manifest.v1+json",
            "application/vnd.docker.distribution.manifest.list.v2+json", "application/vnd.docker.distribution.manifest.v2+json",
        ])
        let head = try await client.headManifest(try server.reference("1"))
        #expect(head?.digest == image.written.manifestDescriptor.digest)
    }
}
