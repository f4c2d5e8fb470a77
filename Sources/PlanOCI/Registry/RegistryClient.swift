import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// A client of the OCI distribution API (Docker registry v2) on async-http-client: manifest and
/// blob requests with Bearer or Basic authentication (credentials from docker's config.json and its
/// credential helpers, see ``RegistryCredentials``), retries with backoff, digest-verified downloads
/// into a ``ContentStore``, ``pull(_:platform:into:)``, and ``push(_:to:events:)`` with
/// ``pushBlob(_:content:to:events:)``.
public final class RegistryClient: Sendable {
    /// Settings of a client.
    public struct Configuration: Sendable {
        /// Registries (`host:port`, as in references) spoken to over plain HTTP instead of HTTPS.
        public var insecureRegistries: Set<String>
        /// Credentials by registry, e.g. from ``RegistryCredentials/fromDockerConfig(environment:)``.
        public var credentials: RegistryCredentials
        /// Retries on 429, 5xx and dropped connections.
        public var retry: RetryPolicy
        /// How many layers a pull downloads at once.
        public var maxConcurrentDownloads: Int
        /// Longest a manifest, index, image config or token response may be (4 MiB, as containerd's
        /// manifest limit): a descriptor announcing more is refused before any byte is fetched.
        public var maxDocumentSize: Int
        /// Sent as `User-Agent`.
        public var userAgent: String
        /// Whether `localhost`, 127.0.0.0/8 and `::1` are spoken to over plain HTTP without being
        /// listed in ``insecureRegistries``, as Docker does (true by default).
        public var loopbackIsInsecure: Bool
        /// A request is abandoned as stalled when a window this long passes with fewer than
        /// ``minimumTransferRate`` bytes per second received (waiting for the answer included);
        /// a stall counts as a transient fault and is retried within ``retry``.
        public var stallTimeout: Duration
        /// Bytes per second, averaged over ``stallTimeout``, below which a transfer is stalled
        /// (at least one byte per window is always required).
        public var minimumTransferRate: Int
        /// How many blobs a push sends at once.
        public var maxConcurrentUploads: Int = 3
        /// A blob up to this size is uploaded in one request; a larger one in `PATCH` chunks of this size
        /// (at least 64 KiB; larger when the registry asks for a larger minimum).
        public var uploadChunkSize: Int = 32 << 20

        /// Makes a configuration.
        public init(
            insecureRegistries: Set<String> = [], credentials: RegistryCredentials = .none, retry: RetryPolicy = .default,
            maxConcurrentDownloads: Int = 3, maxDocumentSize: Int = 4 << 20, userAgent: String = "plan-oci/1",
            loopbackIsInsecure: Bool = true, stallTimeout: Duration = .seconds(30), minimumTransferRate: Int = 1024
        ) {
            self.loopbackIsInsecure = loopbackIsInsecure
            self.stallTimeout = stallTimeout
            self.minimumTransferRate = minimumTransferRate
            self.maxConcurrentDownloads = maxConcurrentDownloads
            self.insecureRegistries = insecureRegistries
            self.credentials = credentials
            self.retry = retry
            self.maxDocumentSize = maxDocumentSize
            self.userAgent = userAgent
        }
    }

    /// The client's settings.
    public let configuration: Configuration
    let http: HTTPClient
    let authCache = AuthorizationCache()
    /// Credentials by registry, each looked up once (a credential helper runs at most once).
    let credentialCache = CredentialCache()
    /// Where blobs are known to be, for cross-repository mounts.
    let locations = BlobLocations()

    /// Makes a client. Without `httpClient` it uses one HTTP client shared by the whole process
    /// (like `HTTPClient.shared`: never shut down, so nothing to release); a client passed in
    /// stays the caller's to shut down.
    public init(configuration: Configuration = Configuration(), httpClient: HTTPClient? = nil) {
        self.configuration = configuration
        http = httpClient ?? Self.sharedHTTPClient
    }

    /// The process-wide HTTP client: follows up to 5 redirects (blob storage often redirects),
    /// connects within 10 s, and gives up on a response silent for 60 s (a dropped connection).
    /// A connection that fails (refused, TLS handshake refused) fails its request at once rather
    /// than being retried inside the pool until the connect timeout: ``perform`` decides what is
    /// worth retrying.
    static let sharedHTTPClient: HTTPClient = {
        var config = HTTPClient.Configuration(
            redirectConfiguration: .follow(max: 5, allowCycles: false),
            timeout: .init(connect: .seconds(10), read: .seconds(60))
        )
        config.decompression = .disabled
        config.connectionPool.retryConnectionEstablishment = false
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: config)
    }()

    // MARK: URLs

    /// `http` for insecure registries (listed, or on the loopback interface), `https` otherwise.
    func scheme(for reference: ImageReference) -> String {
        isInsecure(reference) ? "http" : "https"
    }

    /// Whether the registry of `reference` is spoken to over plain HTTP.
    public func isInsecure(_ reference: ImageReference) -> Bool {
        configuration.insecureRegistries.contains(reference.registry) || configuration.insecureRegistries.contains(reference.apiHost)
            || configuration.loopbackIsInsecure && Self.isLoopback(reference.apiHost)
    }

    /// Whether `host[:port]` names the loopback interface: `localhost`, 127.0.0.0/8 or `::1`.
    static func isLoopback(_ hostAndPort: String) -> Bool {
        var host = Substring(hostAndPort)
        if host.hasPrefix("[") {
            guard let end = host.firstIndex(of: "]") else { return false }
            host = host[host.index(after: host.startIndex)..<end]
        } else if let colon = host.lastIndex(of: ":"), host.firstIndex(of: ":") == colon {
            host = host[..<colon]
        }
        let lower = host.lowercased()
        if lower == "localhost" || lower.hasSuffix(".localhost") || lower == "::1" || lower == "0:0:0:0:0:0:0:1" { return true }
        let octets = lower.split(separator: ".", omittingEmptySubsequences: false)
        return octets.count == 4 && octets[0] == "127" && octets.allSatisfy { UInt8($0) != nil }
    }

    func baseURL(_ reference: ImageReference) -> String {
        "\(scheme(for: reference))://\(reference.apiHost)/v2/\(reference.repository)"
    }

    func manifestURL(_ reference: ImageReference, _ tagOrDigest: String) -> String {
        "\(baseURL(reference))/manifests/\(tagOrDigest)"
    }

    func blobURL(_ reference: ImageReference, _ digest: Digest) -> String {
        "\(baseURL(reference))/blobs/\(digest)"
    }

    // MARK: manifests

    /// A manifest or index as the registry sent it, digest-checked.
    public struct FetchedManifest: Sendable {
        /// The exact bytes.
        public var data: Data
        /// Its media type (from `Content-Type`, else from the document's `mediaType`).
        public var mediaType: MediaType
        /// SHA-256 of ``data``.
        public var digest: Digest

        /// A descriptor of it.
        public var descriptor: Descriptor { Descriptor(mediaType: mediaType, digest: digest, size: Int64(data.count)) }
    }

    /// `HEAD` a manifest: its descriptor from `Docker-Content-Digest`, `Content-Type` and
    /// `Content-Length`, or nil when the registry does not send the digest.
    public func headManifest(_ reference: ImageReference, _ tagOrDigest: String? = nil) async throws -> Descriptor? {
        let url = manifestURL(reference, tagOrDigest ?? reference.manifestReference)
        return try await perform(.HEAD, url: url, reference: reference, accept: MediaType.manifestAccept) { response in
            try Self.check(response, method: "HEAD", url: url, what: "manifest \(reference)")
            guard let digestText = response.headers.first(name: "Docker-Content-Digest"),
                  let digest = try? Digest(parsing: digestText)
            else { return nil }
            let type = response.headers.first(name: "Content-Type").map(Self.mediaType(fromContentType:)) ?? .ociManifest
            let size = response.headers.first(name: "Content-Length").flatMap { Int64($0) } ?? 0
            return Descriptor(mediaType: type, digest: digest, size: size)
        }
    }

    /// `GET` a manifest or index by tag or digest. Fetched by digest, or when the registry sends
    /// `Docker-Content-Digest`, the bytes must hash to that digest.
    public func fetchManifest(_ reference: ImageReference, _ tagOrDigest: String? = nil) async throws -> FetchedManifest {
        let ref = tagOrDigest ?? reference.manifestReference
        let url = manifestURL(reference, ref)
        let limit = configuration.maxDocumentSize
        return try await perform(.GET, url: url, reference: reference, accept: MediaType.manifestAccept) { response in
            try Self.check(response, method: "GET", url: url, what: "manifest \(reference)")
            let data = try await Self.collect(response, limit: limit, url: url)
            let actual = Digest.sha256(of: data)
            if let wanted = try? Digest(parsing: ref), wanted.algorithm == "sha256", wanted != actual {
                throw RegistryError.digestMismatch("manifest \(reference.name)@\(wanted)", wanted, actual)
            }
            if let header = response.headers.first(name: "Docker-Content-Digest"),
               let announced = try? Digest(parsing: header), announced.algorithm == "sha256", announced != actual {
                throw RegistryError.digestMismatch("manifest \(reference)", announced, actual)
            }
            var type = response.headers.first(name: "Content-Type").map(Self.mediaType(fromContentType:))
            if type == nil || !(type?.isIndex ?? false || type?.isManifest ?? false) {
                type = Self.sniffMediaType(data) ?? type
            }
            guard let mediaType = type, mediaType.isIndex || mediaType.isManifest else {
                throw RegistryError.unsupportedMediaType(type?.rawValue ?? "(none)", url)
            }
            return FetchedManifest(data: data, mediaType: mediaType, digest: actual)
        }
    }

    // MARK: blobs

    /// Streams a blob into `store` unless it is there already; its SHA-256 (and size) are checked
    /// before it becomes visible. A mismatch throws ``RegistryError/digestMismatch(_:_:_:)`` and
    /// leaves nothing in the store. Returns whether a download happened.
    @discardableResult
    public func fetchBlob(_ descriptor: Descriptor, of reference: ImageReference, into store: ContentStore) async throws -> Bool {
        if store.contains(descriptor.digest) { return false }
        let url = blobURL(reference, descriptor.digest)
        // The size is enforced as bytes arrive (a blob longer than announced stops at the first
        // chunk past it); `0` means empty, never "unknown".
        guard descriptor.size >= 0 else {
            throw RegistryError.invalidDocument("descriptor of blob \(descriptor.digest)", "negative size \(descriptor.size)")
        }
        let expectedSize = descriptor.size
        try await perform(.GET, url: url, reference: reference, accept: []) { response in
            try Self.check(response, method: "GET", url: url, what: "blob \(descriptor.digest) of \(reference.name)")
            let writer: BlobWriter
            do throws(ContentStoreError) {
                writer = try store.writer(expecting: descriptor.digest, size: expectedSize)
            } catch {
                throw RegistryError.store(error)
            }
            do {
                for try await buffer in response.body {
                    TransferProgress.current?.received(buffer.readableBytes)
                    try buffer.withUnsafeReadableBytes { bytes in try writer.write(bytes) }
                }
                try writer.commit()
            } catch let error as ContentStoreError {
                writer.abort()
                switch error {
                case .digestMismatch(let expected, let actual):
                    throw RegistryError.digestMismatch("blob from \(url)", expected, actual)
                case .sizeMismatch(let expected, let actual, _) where actual > expected:
                    throw RegistryError.tooLarge(url, Int(clamping: expected))
                default:
                    throw RegistryError.store(error)
                }
            } catch {
                writer.abort()
                throw error
            }
        }
        return true
    }

    // MARK: helpers

    static func check(_ response: HTTPClientResponse, method: String, url: String, what: String) throws {
        switch response.status.code {
        case 200..<300: return
        case 404: throw RegistryError.notFound(what, url)
        default: throw RegistryError.unexpectedStatus(method, url, Int(response.status.code), "")
        }
    }

    static func collect(_ response: HTTPClientResponse, limit: Int, url: String) async throws -> Data {
        var data = Data()
        for try await buffer in response.body {
            TransferProgress.current?.received(buffer.readableBytes)
            if data.count + buffer.readableBytes > limit { throw RegistryError.tooLarge(url, limit) }
            buffer.withUnsafeReadableBytes { data.append(contentsOf: $0) }
        }
        return data
    }

    static func mediaType(fromContentType value: String) -> MediaType {
        MediaType(value.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces) } ?? value)
    }

    /// The media type a document declares, or what its shape says (`manifests` → index, `config` → manifest).
    static func sniffMediaType(_ data: Data) -> MediaType? {
        struct Probe: Decodable {
            var mediaType: String?
            var manifests: [Descriptor]?
            var config: Descriptor?
        }
        guard let probe = try? JSONDecoder().decode(Probe.self, from: data) else { return nil }
        if let t = probe.mediaType { return MediaType(t) }
        if probe.manifests != nil { return .ociIndex }
        if probe.config != nil { return .ociManifest }
        return nil
    }
}
