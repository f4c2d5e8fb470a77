/// A media type of the OCI image specification or of Docker's image manifest v2, schema 2.
public struct MediaType: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
    /// The media type string, e.g. `application/vnd.oci.image.manifest.v1+json`.
    public let rawValue: String

    /// Wraps a media type string.
    public init(rawValue: String) { self.rawValue = rawValue }
    /// Wraps a media type string.
    public init(_ rawValue: String) { self.rawValue = rawValue }

    public init(from decoder: any Decoder) throws {
        rawValue = try decoder.singleValueContainer().decode(String.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    public var description: String { rawValue }

    // OCI
    /// OCI image manifest.
    public static let ociManifest = MediaType("application/vnd.oci.image.manifest.v1+json")
    /// OCI image index.
    public static let ociIndex = MediaType("application/vnd.oci.image.index.v1+json")
    /// OCI image configuration.
    public static let ociConfig = MediaType("application/vnd.oci.image.config.v1+json")
    /// OCI layer, uncompressed tar.
    public static let ociLayer = MediaType("application/vnd.oci.image.layer.v1.tar")
    /// OCI layer, gzip-compressed tar.
    public static let ociLayerGzip = MediaType("application/vnd.oci.image.layer.v1.tar+gzip")
    /// OCI layer, zstd-compressed tar.
    public static let ociLayerZstd = MediaType("application/vnd.oci.image.layer.v1.tar+zstd")

    // Docker v2 schema 2
    /// Docker image manifest, v2 schema 2.
    public static let dockerManifest = MediaType("application/vnd.docker.distribution.manifest.v2+json")
    /// Docker manifest list.
    public static let dockerManifestList = MediaType("application/vnd.docker.distribution.manifest.list.v2+json")
    /// Docker image configuration.
    public static let dockerConfig = MediaType("application/vnd.docker.container.image.v1+json")
    /// Docker layer, gzip-compressed tar.
    public static let dockerLayerGzip = MediaType("application/vnd.docker.image.rootfs.diff.tar.gzip")
    /// Docker foreign (non-distributable) layer.
    public static let dockerForeignLayerGzip = MediaType("application/vnd.docker.image.rootfs.foreign.diff.tar.gzip")

    /// True for an image index or a Docker manifest list.
    public var isIndex: Bool { self == .ociIndex || self == .dockerManifestList }
    /// True for an OCI or Docker image manifest.
    public var isManifest: Bool { self == .ociManifest || self == .dockerManifest }

    /// The `Accept` header value for manifest requests: both families, indexes and manifests.
    public static let manifestAccept: [MediaType] = [.ociIndex, .ociManifest, .dockerManifestList, .dockerManifest]
}
