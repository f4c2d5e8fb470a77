/// An image index (`application/vnd.oci.image.index.v1+json`) or a Docker manifest list
/// (`application/vnd.docker.distribution.manifest.list.v2+json`): manifests per platform.
/// The `index.json` of an OCI image layout has this shape too.
public struct ImageIndex: Hashable, Sendable, Codable {
    /// Always 2.
    public var schemaVersion: Int
    /// The index's media type.
    public var mediaType: MediaType?
    /// The artifact type, for artifact indexes.
    public var artifactType: String?
    /// The manifests (or nested indexes) it lists.
    public var manifests: [Descriptor]
    /// The manifest this one refers to (OCI 1.1 referrers).
    public var subject: Descriptor?
    /// Arbitrary metadata.
    public var annotations: [String: String]?

    /// Makes an index.
    public init(mediaType: MediaType? = .ociIndex, manifests: [Descriptor], annotations: [String: String]? = nil) {
        self.schemaVersion = 2
        self.mediaType = mediaType
        self.manifests = manifests
        self.annotations = annotations
    }

    /// The manifest to use on `platform`: among the image manifests whose platform matches
    /// (see ``Platform/matches(_:)``), the first whose variant matches exactly, else the first.
    /// Entries without a platform, and attestation manifests (`unknown/unknown`), never match.
    public func manifest(for platform: Platform) -> Descriptor? {
        let candidates = manifests.filter { d in
            guard let p = d.platform else { return false }
            return platform.matches(p)
        }
        let want = platform.normalized
        return candidates.first { $0.platform?.normalized.variant == want.variant } ?? candidates.first
    }

    /// The platforms this index lists, in order.
    public var platforms: [Platform] { manifests.compactMap(\.platform) }
}
