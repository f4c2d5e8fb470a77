import Foundation
import Testing

@testable import PlanOCI

/// What a registry cannot make a pull do: stream more than a descriptor announced, send a config
/// of any size, hold a pull for ever by trickling bytes; and what is known at once is not
/// retried (a closed port, plain HTTP answering a TLS handshake).
@Suite("Registry bounds and connection failures")
struct RegistryBoundsTests {
    static func client(_ server: FakeRegistry, attempts: Int = 3, insecure: Bool = true,
                       configure: (inout RegistryClient.Configuration) -> Void = { _ in }) -> RegistryClient {
        var configuration = RegistryClient.Configuration(
            insecureRegistries: insecure ? [server.host] : [],
            retry: RetryPolicy(maxAttempts: attempts, initialDelay: .milliseconds(20), maximumDelay: .milliseconds(100)))
        configure(&configuration)
        return RegistryClient(configuration: configuration)
    }

    @Test("a closed port fails at once: connection refused in words, not retried")
    func closedPort() async throws {
        // A port that was free a moment ago: bind, read the port, close.
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        let port = Int(UInt16(bigEndian: address.sin_port))
        close(fd)
        #expect(port > 0)
        let work = try OCITestKit.temporaryDirectory("closed")
        defer { OCITestKit.remove(work) }
        let store = try ContentStore(root: work)
        let client = RegistryClient(configuration: .init(retry: RetryPolicy(maxAttempts: 5, initialDelay: .seconds(5))))
        await #expect {
            try await client.pull(try ImageReference(parsing: "127.0.0.1:\(port)/a/b:1"), into: store)
        } throws: { error in
            // `.connectionRefused`, not `.retriesExhausted`: no retry was made (with 5 s between
            // attempts, a retry would also show in the time the test takes).
            guard case .connectionRefused(let host, _) = error as? RegistryError else { return false }
            let text = String(describing: error)
            return host == "127.0.0.1:\(port)" && text.contains("connection to 127.0.0.1:\(port) refused")
                && !text.contains("NIO") && !text.contains("errno")
        }
    }

    @Test("a plain-HTTP registry spoken to over TLS fails at once and names --insecure-registry")
    func plainHTTPToTLS() async throws {
        let (work, _, server, store) = try FakeRegistryTests.setUp()
        defer { server.stop(); OCITestKit.remove(work) }
        // The fake registry is on 127.0.0.1, which is insecure by default: opt out to see TLS refused.
        let client = Self.client(server, attempts: 5, insecure: false) {
            $0.loopbackIsInsecure = false
            $0.retry = RetryPolicy(maxAttempts: 5, initialDelay: .seconds(5))
        }
        await #expect {
            try await client.pull(try server.reference("1"), into: store)
        } throws: { error in
            guard case .plainHTTP(let host) = error as? RegistryError else { return false }
            let text = String(describing: error)
            return host == server.host
                && text == "\(server.host) answered plain HTTP to a TLS handshake; it is an insecure registry: "
                    + "pass --insecure-registry \(server.host) to talk plain HTTP to it"
        }
        #expect(store.digests().isEmpty)
    }

    @Test("a layer whose descriptor says size 0 is refused as soon as a byte arrives; nothing is stored")
    func sizeZeroIsEnforced() async throws {
        let (work, image, server, store) = try FakeRegistryTests.setUp()
        defer { server.stop(); OCITestKit.remove(work) }
        let client = Self.client(server)
        let layer = image.layers[0]
        let lying = Descriptor(mediaType: layer.mediaType, digest: layer.digest, size: 0)
        await #expect {
            try await client.fetchBlob(lying, of: try server.reference("1"), into: store)
        } throws: { error in
            guard case .tooLarge(_, 0) = error as? RegistryError else { return false }
            return true
        }
        #expect(!store.contains(layer.digest))
        #expect(store.temporaryFiles().isEmpty)
        // Announced too small by one byte: refused the same way.
        let short = Descriptor(mediaType: layer.mediaType, digest: layer.digest, size: layer.size - 1)
        await #expect(throws: RegistryError.self) {
            try await client.fetchBlob(short, of: try server.reference("1"), into: store)
        }
        #expect(!store.contains(layer.digest))
        // The right size: stored.
        #expect(try await client.fetchBlob(layer, of: try server.reference("1"), into: store))
        #expect(store.size(of: layer.digest) == layer.size)
    }

    @Test("an image config announced larger than the document limit is refused before it is fetched")
    func configIsCapped() async throws {
        let (work, image, server, store) = try FakeRegistryTests.setUp()
        defer { server.stop(); OCITestKit.remove(work) }
        // Tag `big`: the same image, its config descriptor announcing 5 MiB.
        var manifest = image.written.manifest
        manifest.config.size = 5 << 20
        let data = try CanonicalJSON.encode(manifest)
        let digest = try image.layout.putBlob(data)
        try image.layout.add(Descriptor(mediaType: .ociManifest, digest: digest, size: Int64(data.count)), name: "big")
        let client = Self.client(server)
        await #expect {
            try await client.pull(try server.reference("big"), into: store)
        } throws: { error in
            guard case .tooLarge(let what, let limit) = error as? RegistryError else { return false }
            return limit == 4 << 20 && what.contains("image config \(manifest.config.digest)")
        }
        #expect(server.blobRequests().isEmpty, "\(server.requests())")
        #expect(!store.contains(manifest.config.digest))
    }

    @Test("a registry that trickles bytes is abandoned as stalled, retried within the policy, then given up")
    func tricklingRegistryStalls() async throws {
        let (work, image, server, store) = try FakeRegistryTests.setUp { ["--trickle", "0.2:" + $0.layers[0].digest.encoded] }
        defer { server.stop(); OCITestKit.remove(work) }
        // 5 bytes a second at most, 1000 required: the window (0.5 s) ends every attempt.
        let client = Self.client(server, attempts: 2) {
            $0.stallTimeout = .milliseconds(500)
            $0.minimumTransferRate = 1000
        }
        await #expect {
            try await client.pull(try server.reference("1"), into: store)
        } throws: { error in
            guard case .retriesExhausted(let url, let attempts, let last) = error as? RegistryError else { return false }
            return url.contains(image.layers[0].digest.encoded) && attempts == 2 && last.hasPrefix("stalled: ")
        }
        #expect(server.requests().filter { $0.contains(image.layers[0].digest.encoded) && $0.hasSuffix("trickled") }.count == 2,
                "\(server.requests())")
        #expect(!store.contains(image.layers[0].digest))
        #expect(store.temporaryFiles().isEmpty)
    }

    // Alone it takes about a second; in a full parallel run the other suites' blocking waits can starve the
    // cooperative pool for minutes (seen: 149 s), so the limit only catches a hang.
    @Test("an error answer whose body never ends is cut after its start and retried like any 500",
          .timeLimit(.minutes(5)))
    func endlessErrorBody() async throws {
        let (work, _, server, store) = try FakeRegistryTests.setUp { _ in ["--endless", "/manifests/"] }
        defer { server.stop(); OCITestKit.remove(work) }
        let client = Self.client(server, attempts: 2)
        await #expect {
            try await client.pull(try server.reference("1"), into: store)
        } throws: { error in
            guard case .retriesExhausted(_, 2, let last) = error as? RegistryError else { return false }
            // The excerpt is the body's start when the read gets there first; a starved reader may be cut by the
            // stall watchdog before it, and then the status alone is the message. Either way it is short.
            return last.hasPrefix("HTTP 500") && last.count < 400
        }
        #expect(server.requests().filter { $0.hasSuffix("endless") }.count == 2, "\(server.requests())")
    }
}
