/// An OCI content descriptor: what a blob is, its digest and size, and optionally its platform.
public struct Descriptor: Hashable, Sendable, Codable {
    /// The media type of the referenced content.
    public var mediaType: MediaType
    /// The digest of the referenced content.
    public var digest: Digest
    /// The size of the referenced content in bytes.
    public var size: Int64
    /// URLs the content may be downloaded from (foreign layers).
    public var urls: [String]?
    /// Arbitrary metadata, e.g. `org.opencontainers.image.ref.name` in an image layout's index.
    public var annotations: [String: String]?
    /// The platform of the referenced manifest, in an image index.
    public var platform: Platform?
    /// The artifact type, for artifact manifests.
    public var artifactType: String?

    /// Makes a descriptor.
    public init(
        mediaType: MediaType, digest: Digest, size: Int64, urls: [String]? = nil,
        annotations: [String: String]? = nil, platform: Platform? = nil, artifactType: String? = nil
    ) {
        self.mediaType = mediaType
        self.digest = digest
        self.size = size
        self.urls = urls
        self.annotations = annotations
        self.platform = platform
        self.artifactType = artifactType
    }

    /// The annotation key that names a manifest in an OCI image layout's `index.json`.
    public static let refNameAnnotation = "org.opencontainers.image.ref.name"
}
