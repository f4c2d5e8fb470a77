import Foundation
import PlanTestKit
import Testing

@testable import PlanOCI

/// Pushes to the real reference registries of scripts/test-registry (open on $PLAN_TEST_REGISTRY,
/// basic auth on $PLAN_TEST_AUTH_REGISTRY), most of them through the logging, fault-injecting proxy of
/// Fixtures/fault_proxy.py, whose log counts what was sent (the registry logs no successful request).
/// Every test pushes to repositories of its own (a UUID), so no test sees another's blobs; what was
/// pushed is read back with skopeo, buildah and the client.
@Suite("Registry push (reference registry)")
struct RegistryPushTests {
    /// A fresh repository name.
    static func repository(_ what: String) -> String { "plan-push/\(what)-\(UUID().uuidString.lowercased())" }

    static func client(
        chunk: Int? = nil, attempts: Int = 5, concurrency: Int = 3, credentials: RegistryCredentials = .none
    ) -> RegistryClient {
        var configuration = RegistryClient.Configuration(
            insecureRegistries: [OCITestKit.registry, OCITestKit.authRegistry], credentials: credentials,
            retry: RetryPolicy(maxAttempts: attempts, initialDelay: .milliseconds(20), maximumDelay: .milliseconds(200)))
        if let chunk { configuration.uploadChunkSize = chunk }
        configuration.maxConcurrentUploads = concurrency
        return RegistryClient(configuration: configuration)
    }

    /// An image in an OCI layout: one layer per file map, each unique to this image.
    struct TestImage {
        let layout: OCILayout
        let written: WrittenImage
        let image: PushableImage

        var digest: Digest { written.manifestDescriptor.digest }
        var blobs: [Descriptor] { [written.manifest.config] + written.manifest.layers }
    }

    static func makeImage(in work: URL, layers: [[String: String]]) throws -> TestImage {
        let layout = try OCILayout.create(at: work.appendingPathComponent("layout-\(UUID().uuidString)"))
        let salt = UUID().uuidString
        let made = try layers.map { files in
            try OCITestKit.makeLayer(files.merging(["salt": salt]) { a, _ in a }, in: work, sink: layout)
        }
        let written = try ImageWriter(platform: .host, config: OCITestKit.sampleConfig(), layers: made).write(to: layout)
        return TestImage(layout: layout, written: written, image: try PushableImage(layout: layout, root: written.manifestDescriptor))
    }

    /// Text that gzip cannot shrink much: base64 of random bytes.
    static func incompressible(_ bytes: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        return Data((0..<bytes).map { _ in UInt8.random(in: 0...255, using: &generator) }).base64EncodedString()
    }

    /// The manifest skopeo reads at a reference (the truth to compare with).
    static func skopeoRaw(_ ref: String, creds: String? = nil) throws -> Data {
        var args = ["inspect", "--tls-verify=false", "--raw"]
        if let creds { args += ["--creds", creds] }
        return Data(try OCITestKit.run("skopeo", args + ["docker://\(ref)"]).utf8)
    }

    /// Whether the registry has no manifest under the reference (a HEAD answers 404).
    static func noManifest(_ ref: ImageReference, client: RegistryClient = client()) async -> Bool {
        do {
            _ = try await client.headManifest(ref)
            return false
        } catch RegistryError.notFound {
            return true
        } catch {
            return false
        }
    }

    /// The open registry's own log lines about a repository, once it has logged `manifestPuts` manifest
    /// PUTs there (an access line is written as its request ends: wait for the last one). Nil when the
    /// registry keeps no access log (scripts/test-registry of before it did).
    static func registryLog(_ repository: String, manifestPuts: Int) async throws -> [String]? {
        for _ in 0..<100 {
            let text = OCITestKit.registryLog()
            guard text.contains("\"GET /v2/") || text.contains("\"HEAD /v2/") else { return nil }
            // Apache's combined format: `… "POST /v2/NAME/blobs/uploads/ HTTP/1.1" 202 …`.
            let lines = text.split(separator: "\n").map(String.init).filter { $0.contains(" /v2/\(repository)/") }
            if lines.filter({ $0.contains("\"PUT /v2/\(repository)/manifests/") }).count >= manifestPuts { return lines }
            try await Task.sleep(for: .milliseconds(50))
        }
        return []
    }

    /// Manifest PUTs the proxy saw for a repository.
    static func manifestPuts(_ proxy: FaultProxy, _ repository: String) -> [String] {
        proxy.requests(of: repository).filter { $0.hasPrefix("PUT ") && $0.contains("/manifests/") }
    }

    @Test("push an OCI layout image: skopeo, skopeo copy and buildah read it; an unchanged re-push sends no blob")
    func pushAndReadBack() async throws {
        let work = try OCITestKit.temporaryDirectory("push")
        defer { OCITestKit.remove(work) }
        let proxy = try FaultProxy(work: work)
        defer { proxy.stop() }
        let image = try Self.makeImage(in: work, layers: [["a.txt": "hello\n"], ["b/c.txt": String(repeating: "plan ", count: 30_000)]])
        let repo = Self.repository("read")
        let ref = try ImageReference(parsing: "\(proxy.host)/\(repo):v1")
        let client = Self.client()

        let first = try await client.push(image.image, to: ref)
        #expect(first.descriptor.digest == image.digest)
        #expect(first.uploaded == 3 && first.present == 0 && first.mounted == 0)
        #expect(first.bytesSent == image.blobs.reduce(0) { $0 + $1.size })
        #expect(first.pinned.description == "\(proxy.host)/\(repo)@\(image.digest)")
        #expect(proxy.uploadsStarted(in: repo) == 3 && proxy.blobsUploaded(in: repo) == 3)
        #expect(Self.manifestPuts(proxy, repo) == ["PUT /v2/\(repo)/manifests/v1 201"])
        // The registry's own log says the same.
        let uploadsLogged = { (lines: [String]) in lines.filter { $0.contains("\"POST /v2/\(repo)/blobs/uploads/ ") }.count }
        if let lines = try await Self.registryLog(repo, manifestPuts: 1) { #expect(uploadsLogged(lines) == 3) }

        let direct = "\(OCITestKit.registry)/\(repo):v1"
        #expect(Digest.sha256(of: try Self.skopeoRaw(direct)) == image.digest)
        // skopeo copies it back into a layout: the same manifest, blobs that verify.
        let back = work.appendingPathComponent("back")
        try OCITestKit.run("skopeo", ["copy", "--src-tls-verify=false", "docker://\(direct)", "oci:\(back.path):v1"])
        let index = try JSONDecoder().decode(ImageIndex.self, from: Data(contentsOf: back.appendingPathComponent("index.json")))
        #expect(index.manifests.map(\.digest) == [image.digest])
        for blob in image.blobs {
            let data = try Data(contentsOf: back.appendingPathComponent("blobs/sha256/\(blob.digest.encoded)"))
            #expect(Digest.sha256(of: data) == blob.digest)
        }
        // buildah pulls it and sees the same digest.
        let buildah = try OCITestKit.tool("buildah")
        let pulledID = try TestSupport.run(buildah, ["pull", "--tls-verify=false", "-q", "docker://\(direct)"])
        #expect(pulledID.status == 0, "\(pulledID.stderr)")
        let id = pulledID.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        defer { _ = try? TestSupport.run(buildah, ["rmi", "-f", id]) }
        let digest = try TestSupport.run(buildah, ["inspect", "--type", "image", "--format", "{{.FromImageDigest}}", id])
        #expect(digest.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == image.digest.description)

        // Unchanged: three HEADs and the manifest, nothing retried, nothing uploaded. (Wall-clock time is
        // no measure here: in a full test run, tests that block the cooperative pool stretch any await.)
        try proxy.clearLog()
        let second = try await client.push(image.image, to: ref)
        #expect(second.uploaded == 0 && second.present == 3 && second.bytesSent == 0)
        #expect(second.descriptor.digest == image.digest)
        #expect(proxy.uploadsStarted(in: repo) == 0 && proxy.blobsUploaded(in: repo) == 0)
        #expect(proxy.requests().filter { $0.hasPrefix("POST ") || $0.hasPrefix("PATCH ") }.isEmpty)
        if let lines = try await Self.registryLog(repo, manifestPuts: 2) { #expect(uploadsLogged(lines) == 3) }
        #expect(proxy.requests().sorted() == (image.blobs.map { "HEAD /v2/\(repo)/blobs/\($0.digest) 200" } + [
            "PUT /v2/\(repo)/manifests/v1 201",
        ]).sorted())
    }

    @Test("a large blob goes in PATCH chunks of uploadChunkSize; the registry has the right bytes")
    func chunked() async throws {
        let work = try OCITestKit.temporaryDirectory("push")
        defer { OCITestKit.remove(work) }
        let proxy = try FaultProxy(work: work)
        defer { proxy.stop() }
        let image = try Self.makeImage(in: work, layers: [["big.txt": Self.incompressible(300_000)], ["small.txt": "small\n"]])
        let big = image.written.manifest.layers[0]
        #expect(big.size > 256 << 10)
        let repo = Self.repository("chunked")
        let client = Self.client(chunk: 64 << 10)
        let result = try await client.push(image.image, to: try ImageReference(parsing: "\(proxy.host)/\(repo):v1"))
        #expect(result.uploaded == 3)
        let chunks = Int((big.size + (64 << 10) - 1) / (64 << 10))
        let patches = proxy.uploadRequests("PATCH", in: repo)
        #expect(patches.count == chunks && patches.allSatisfy { $0.hasSuffix(" 202") })
        #expect(proxy.blobsUploaded(in: repo) == 3)
        // What the registry holds hashes to the digest (the client checks as it downloads).
        let store = try ContentStore(root: work.appendingPathComponent("store"))
        let direct = try ImageReference(parsing: "\(OCITestKit.registry)/\(repo):v1")
        #expect(try await Self.client().fetchBlob(big, of: direct, into: store))
        #expect(try store.data(for: big.digest, verify: true) == Data(contentsOf: image.layout.path(for: big.digest)))
        #expect(Digest.sha256(of: try Self.skopeoRaw(direct.description)) == image.digest)
    }

    @Test("cross-repository mount: a second repository gets every blob mounted, none uploaded")
    func mount() async throws {
        let work = try OCITestKit.temporaryDirectory("push")
        defer { OCITestKit.remove(work) }
        let proxy = try FaultProxy(work: work)
        defer { proxy.stop() }
        let image = try Self.makeImage(in: work, layers: [["one": "1"], ["two": "2"]])
        let (repoA, repoB, repoC) = (Self.repository("mount-a"), Self.repository("mount-b"), Self.repository("mount-c"))
        let refA = try ImageReference(parsing: "\(proxy.host)/\(repoA):v1")
        let client = Self.client()
        #expect(try await client.push(image.image, to: refA).uploaded == 3)

        let second = try await client.push(image.image, to: try ImageReference(parsing: "\(proxy.host)/\(repoB):v1"))
        #expect(second.mounted == 3 && second.uploaded == 0 && second.present == 0)
        #expect(proxy.uploadsStarted(in: repoB) == 0 && proxy.blobsUploaded(in: repoB) == 0)
        let mounts = proxy.requests(of: repoB).filter { $0.hasPrefix("POST ") && $0.contains("?mount=") && $0.contains("from=\(repoA)") }
        #expect(mounts.count == 3 && mounts.allSatisfy { $0.hasSuffix(" 201") })
        #expect(Digest.sha256(of: try Self.skopeoRaw("\(OCITestKit.registry)/\(repoB):v1")) == image.digest)

        // A client that never saw repository A mounts what the content names (a registry-to-registry copy).
        let named = PushableImage(root: image.image.root, blobs: image.image.blobs.map {
            PushBlob(descriptor: $0.descriptor, content: .registry(refA))
        })
        let third = try await Self.client().push(named, to: try ImageReference(parsing: "\(proxy.host)/\(repoC):v1"))
        #expect(third.mounted == 3 && third.uploaded == 0)
        #expect(proxy.uploadsStarted(in: repoC) == 0)
    }

    @Test("a copy between registries streams each blob from the source's GET into the upload; the digest is kept")
    func streamedCopy() async throws {
        let work = try OCITestKit.temporaryDirectory("push")
        defer { OCITestKit.remove(work) }
        let image = try Self.makeImage(in: work, layers: [["copy.txt": Self.incompressible(100_000)]])
        let source = try ImageReference(parsing: "\(OCITestKit.registry)/\(Self.repository("copy-from")):v1")
        #expect(try await Self.client().push(image.image, to: source).uploaded == 2)
        let named = PushableImage(root: image.image.root, blobs: image.image.blobs.map {
            PushBlob(descriptor: $0.descriptor, content: .registry(source))
        })
        let client = Self.client(credentials: RegistryCredentials(byRegistry: [
            OCITestKit.authRegistry: RegistryCredential(username: OCITestKit.authUser, password: OCITestKit.authPassword),
        ]))
        let target = try ImageReference(parsing: "\(OCITestKit.authRegistry)/\(Self.repository("copy-to")):v1")
        let copied = try await client.push(named, to: target)
        #expect(copied.uploaded == 2 && copied.mounted == 0 && copied.bytesSent == image.blobs.reduce(0) { $0 + $1.size })
        let creds = "\(OCITestKit.authUser):\(OCITestKit.authPassword)"
        #expect(Digest.sha256(of: try Self.skopeoRaw(target.description, creds: creds)) == image.digest)
        let store = try ContentStore(root: work.appendingPathComponent("store"))
        #expect(try await client.fetchBlob(image.written.manifest.layers[0], of: target, into: store))
    }

    @Test("basic auth: right credentials push; a wrong password and none each fail clearly, leaving no manifest")
    func basicAuth() async throws {
        let work = try OCITestKit.temporaryDirectory("push")
        defer { OCITestKit.remove(work) }
        let image = try Self.makeImage(in: work, layers: [["auth.txt": "auth\n"]])
        let good = Self.client(credentials: RegistryCredentials(byRegistry: [
            OCITestKit.authRegistry: RegistryCredential(username: OCITestKit.authUser, password: OCITestKit.authPassword),
        ]))
        let ref = try ImageReference(parsing: "\(OCITestKit.authRegistry)/\(Self.repository("auth")):v1")
        #expect(try await good.push(image.image, to: ref).uploaded == 2)
        let creds = "\(OCITestKit.authUser):\(OCITestKit.authPassword)"
        #expect(Digest.sha256(of: try Self.skopeoRaw(ref.description, creds: creds)) == image.digest)

        let refused = try ImageReference(parsing: "\(OCITestKit.authRegistry)/\(Self.repository("auth-refused")):v1")
        let wrong = Self.client(credentials: RegistryCredentials(byRegistry: [
            OCITestKit.authRegistry: RegistryCredential(username: OCITestKit.authUser, password: "wrong"),
        ]))
        await #expect {
            try await wrong.push(image.image, to: refused)
        } throws: { error in
            guard case .unauthorized(let registry, let detail) = error as? RegistryError else { return false }
            return registry == OCITestKit.authRegistry && detail.contains("user \"\(OCITestKit.authUser)\"") && detail.contains("401")
                && (error as? RegistryError)?.description.contains(OCITestKit.authRegistry) == true
        }
        await #expect(throws: RegistryError.credentialsRequired(OCITestKit.authRegistry, "Basic")) {
            try await Self.client().push(image.image, to: refused)
        }
        #expect(await Self.noManifest(refused, client: good))
    }

    @Test("500 twice on blob uploads and on the manifest, then the registry's answers: retried, the image is whole")
    func retriesServerErrors() async throws {
        let work = try OCITestKit.temporaryDirectory("push")
        defer { OCITestKit.remove(work) }
        let proxy = try FaultProxy(fail: ["2:500:PUT:/blobs/uploads/", "2:503:PUT:/manifests/"], work: work)
        defer { proxy.stop() }
        let image = try Self.makeImage(in: work, layers: [["x": "x\n"], ["y": "y\n"]])
        let repo = Self.repository("retry")
        let result = try await Self.client().push(image.image, to: try ImageReference(parsing: "\(proxy.host)/\(repo):v1"))
        #expect(result.uploaded == 3)
        #expect(proxy.uploadRequests("PUT", in: repo, status: "500").count == 2)
        #expect(proxy.blobsUploaded(in: repo) == 3)
        #expect(Self.manifestPuts(proxy, repo) == ["503", "503", "201"].map { "PUT /v2/\(repo)/manifests/v1 \($0)" })
        #expect(Digest.sha256(of: try Self.skopeoRaw("\(OCITestKit.registry)/\(repo):v1")) == image.digest)
    }

    @Test("a connection closed mid-blob is retried and the push completes; one that always closes fails, leaving no manifest")
    func droppedConnection() async throws {
        let work = try OCITestKit.temporaryDirectory("push")
        defer { OCITestKit.remove(work) }
        let image = try Self.makeImage(in: work, layers: [["big.txt": Self.incompressible(150_000)]])
        let layer = image.written.manifest.layers[0]
        do {
            let proxy = try FaultProxy(drop: ["0:1:PUT:\(layer.digest.encoded)"], work: work)
            defer { proxy.stop() }
            let repo = Self.repository("drop")
            let result = try await Self.client().push(image.image, to: try ImageReference(parsing: "\(proxy.host)/\(repo):v1"))
            #expect(result.uploaded == 2)
            #expect(proxy.uploadRequests("PUT", in: repo, status: "dropped").count == 1)
            #expect(proxy.blobsUploaded(in: repo) == 2)
            let store = try ContentStore(root: work.appendingPathComponent("store"))
            let direct = try ImageReference(parsing: "\(OCITestKit.registry)/\(repo):v1")
            #expect(try await Self.client().fetchBlob(layer, of: direct, into: store))
            #expect(Digest.sha256(of: try Self.skopeoRaw(direct.description)) == image.digest)
        }
        let proxy = try FaultProxy(drop: ["0:100:PUT:\(layer.digest.encoded)"], work: work)
        defer { proxy.stop() }
        let ref = try ImageReference(parsing: "\(proxy.host)/\(Self.repository("drop-always")):v1")
        await #expect {
            try await Self.client(attempts: 3).push(image.image, to: ref)
        } throws: { error in
            guard case .retriesExhausted(let url, let attempts, _) = error as? RegistryError else { return false }
            return attempts == 3 && url.contains(ref.repository)
        }
        #expect(Self.manifestPuts(proxy, ref.repository).isEmpty)
        #expect(await Self.noManifest(ref))
    }

    @Test("a chunk dropped mid-way, or answered 416, resumes where the registry says it is: one session, only that chunk again",
          arguments: ["dropped", "416"])
    func resumeChunk(_ fault: String) async throws {
        let work = try OCITestKit.temporaryDirectory("push")
        defer { OCITestKit.remove(work) }
        // The second chunk is dropped half sent; or the first is refused as out of order (the registry is at 0).
        let proxy = fault == "dropped"
            ? try FaultProxy(drop: ["1:1:PATCH:/blobs/uploads/"], work: work)
            : try FaultProxy(fail: ["1:416:PATCH:/blobs/uploads/"], work: work)
        defer { proxy.stop() }
        let image = try Self.makeImage(in: work, layers: [["big.txt": Self.incompressible(300_000)]])
        let big = image.written.manifest.layers[0]
        let repo = Self.repository("resume")
        let result = try await Self.client(chunk: 64 << 10).push(image.image, to: try ImageReference(parsing: "\(proxy.host)/\(repo):v1"))
        #expect(result.uploaded == 2)
        let chunks = Int((big.size + (64 << 10) - 1) / (64 << 10))
        #expect(proxy.uploadRequests("PATCH", in: repo, status: "202").count == chunks)
        #expect(proxy.uploadRequests("PATCH", in: repo, status: fault).count == 1)
        #expect(proxy.uploadRequests("GET", in: repo, status: "204").count == 1)
        // No second session: the blob was not started again.
        #expect(proxy.uploadsStarted(in: repo) == 2 && proxy.blobsUploaded(in: repo) == 2)
        let store = try ContentStore(root: work.appendingPathComponent("store"))
        #expect(try await Self.client().fetchBlob(big, of: try ImageReference(parsing: "\(OCITestKit.registry)/\(repo):v1"), into: store))
    }

    /// A push task to cancel from its own event callback.
    final class Cancellable: @unchecked Sendable {
        private let lock = NSLock()
        private var task: Task<PushResult, any Error>?

        func set(_ task: Task<PushResult, any Error>) { lock.withLock { self.task = task } }
        func cancel() { lock.withLock { task?.cancel() } }
    }

    @Test("a push cancelled after its first blob leaves no manifest; the re-run sends only the missing blobs")
    func cancelledThenResumed() async throws {
        let work = try OCITestKit.temporaryDirectory("push")
        defer { OCITestKit.remove(work) }
        let proxy = try FaultProxy(work: work)
        defer { proxy.stop() }
        let image = try Self.makeImage(in: work, layers: [["1": "one\n"], ["2": "two\n"], ["3": "three\n"]])
        let repo = Self.repository("cancel")
        let ref = try ImageReference(parsing: "\(proxy.host)/\(repo):v1")
        let client = Self.client(concurrency: 1)
        let holder = Cancellable()
        let (gate, open) = AsyncStream<Void>.makeStream()
        let task = Task {
            for await _ in gate { break }
            return try await client.push(image.image, to: ref, events: { event in
                if case .blobSent = event { holder.cancel() }
            })
        }
        holder.set(task)
        open.yield()
        let outcome = await task.result
        #expect(throws: CancellationError.self) { try outcome.get() }
        let sent = proxy.blobsUploaded(in: repo)
        #expect(sent >= 1 && sent < 4)
        #expect(Self.manifestPuts(proxy, repo).isEmpty)
        #expect(await Self.noManifest(ref))

        try proxy.clearLog()
        let rerun = try await Self.client().push(image.image, to: ref)
        #expect(rerun.present == sent && rerun.uploaded == 4 - sent)
        #expect(proxy.blobsUploaded(in: repo) == 4 - sent && proxy.uploadsStarted(in: repo) == 4 - sent)
        #expect(Digest.sha256(of: try Self.skopeoRaw("\(OCITestKit.registry)/\(repo):v1")) == image.digest)
    }

    @Test("a manifest the registry rejects (its blobs were never pushed): pushRejected naming the reference and MANIFEST_BLOB_UNKNOWN")
    func rejectedManifest() async throws {
        let work = try OCITestKit.temporaryDirectory("push")
        defer { OCITestKit.remove(work) }
        let image = try Self.makeImage(in: work, layers: [["lost": "lost\n"], ["found": "found\n"]])
        let ref = try ImageReference(parsing: "\(OCITestKit.registry)/\(Self.repository("rejected")):v1")
        let broken = PushableImage(root: image.image.root, blobs: [])
        await #expect {
            try await Self.client().push(broken, to: ref)
        } throws: { error in
            guard let registryError = error as? RegistryError, case .pushRejected(_, let reference, let status, let said) = registryError else {
                return false
            }
            let text = registryError.description
            return reference == ref.description && status == 400 && said.contains("MANIFEST_BLOB_UNKNOWN")
                && text.hasPrefix(ref.description) && text.contains(image.blobs[1].digest.description)
        }
        #expect(await Self.noManifest(ref))
    }
}
