/// An image manifest: OCI (`application/vnd.oci.image.manifest.v1+json`) or Docker v2 schema 2
/// (`application/vnd.docker.distribution.manifest.v2+json`); the two share this shape.
public struct Manifest: Hashable, Sendable, Codable {
    /// Always 2.
    public var schemaVersion: Int
    /// The manifest's media type; required by Docker, optional (but recommended) in OCI.
    public var mediaType: MediaType?
    /// The artifact type, for artifact manifests.
    public var artifactType: String?
    /// The image configuration blob.
    public var config: Descriptor
    /// The layers, base first.
    public var layers: [Descriptor]
    /// The manifest this one refers to (OCI 1.1 referrers).
    public var subject: Descriptor?
    /// Arbitrary metadata.
    public var annotations: [String: String]?

    /// Makes a manifest.
    public init(
        mediaType: MediaType? = .ociManifest, config: Descriptor, layers: [Descriptor],
        annotations: [String: String]? = nil, artifactType: String? = nil, subject: Descriptor? = nil
    ) {
        self.schemaVersion = 2
        self.mediaType = mediaType
        self.config = config
        self.layers = layers
        self.annotations = annotations
        self.artifactType = artifactType
        self.subject = subject
    }
}
