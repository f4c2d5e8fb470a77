import Foundation

/// One layer of an image being written: its blob (already stored, compressed or not) and the
/// digest of its uncompressed tar (the config's `diff_id`).
public struct ImageLayer: Hashable, Sendable {
    /// The layer blob: media type, digest and size as stored.
    public var descriptor: Descriptor
    /// SHA-256 of the uncompressed tar.
    public var diffID: Digest

    /// Describes a layer blob.
    public init(descriptor: Descriptor, diffID: Digest) {
        self.descriptor = descriptor
        self.diffID = diffID
    }
}

/// The media type family an image is written in.
public enum ImageFormat: Sendable, Hashable {
    /// OCI image manifest, config and index media types.
    case oci
    /// Docker v2 schema 2 manifest, config and manifest list media types.
    case docker

    var manifest: MediaType { self == .oci ? .ociManifest : .dockerManifest }
    var config: MediaType { self == .oci ? .ociConfig : .dockerConfig }
    var index: MediaType { self == .oci ? .ociIndex : .dockerManifestList }
}

/// What ``ImageWriter/write(to:)`` wrote: the manifest's descriptor (with the platform, ready for
/// an index), and the documents themselves.
public struct WrittenImage: Hashable, Sendable {
    /// The manifest blob's descriptor, with `platform` set.
    public var manifestDescriptor: Descriptor
    /// The manifest.
    public var manifest: Manifest
    /// The configuration blob's descriptor.
    public var configDescriptor: Descriptor
    /// The configuration.
    public var configuration: ImageConfiguration
}

/// Builds an image's configuration and manifest from layers and run settings, and writes them
/// as blobs. Deterministic: JSON with sorted keys, no timestamp unless ``created`` is set, sets
/// written sorted — the same inputs give byte-identical documents, hence the same digests.
public struct ImageWriter: Sendable {
    /// The platform the image is for.
    public var platform: Platform
    /// Run defaults: Env, Cmd, Entrypoint, WorkingDir, User, ExposedPorts, Labels, Volumes, StopSignal.
    public var config: ContainerConfiguration
    /// The layers, base first.
    public var layers: [ImageLayer]
    /// History entries; nil writes none.
    public var history: [ImageConfiguration.History]?
    /// The image's creation time; nil writes none.
    public var created: Date?
    /// The image's author.
    public var author: String?
    /// Manifest annotations.
    public var annotations: [String: String]?
    /// OCI or Docker media types.
    public var format: ImageFormat

    /// Makes a writer.
    public init(
        platform: Platform, config: ContainerConfiguration = ContainerConfiguration(), layers: [ImageLayer] = [],
        history: [ImageConfiguration.History]? = nil, created: Date? = nil, author: String? = nil,
        annotations: [String: String]? = nil, format: ImageFormat = .oci
    ) {
        self.platform = platform
        self.config = config
        self.layers = layers
        self.history = history
        self.created = created
        self.author = author
        self.annotations = annotations
        self.format = format
    }

    /// RFC 3339 in UTC, whole seconds: `2024-01-02T03:04:05Z`.
    public static func timestamp(_ date: Date) -> String {
        let f = ISO8601DateFormatter()
        f.timeZone = TimeZone(identifier: "UTC")
        f.formatOptions = [.withInternetDateTime]
        return f.string(from: date)
    }

    /// The image configuration these inputs describe.
    public func configuration() -> ImageConfiguration {
        ImageConfiguration(
            platform: platform, config: config, diffIDs: layers.map(\.diffID), history: history,
            created: created.map(Self.timestamp), author: author
        )
    }

    /// The configuration's bytes, canonical JSON.
    public func configurationJSON() throws(ImageError) -> Data {
        try CanonicalJSON.encode(configuration())
    }

    /// Writes the configuration and manifest blobs (the layer blobs must already be in `sink`,
    /// or be written there by the caller).
    public func write(to sink: some BlobSink) throws -> WrittenImage {
        let configuration = configuration()
        let configData = try CanonicalJSON.encode(configuration)
        let configDigest = try sink.putBlob(configData)
        let configDescriptor = Descriptor(mediaType: format.config, digest: configDigest, size: Int64(configData.count))
        let manifest = Manifest(
            mediaType: format.manifest, config: configDescriptor, layers: layers.map(\.descriptor), annotations: annotations)
        let manifestData = try CanonicalJSON.encode(manifest)
        let manifestDigest = try sink.putBlob(manifestData)
        let descriptor = Descriptor(
            mediaType: format.manifest, digest: manifestDigest, size: Int64(manifestData.count), platform: platform)
        return WrittenImage(
            manifestDescriptor: descriptor, manifest: manifest, configDescriptor: configDescriptor, configuration: configuration)
    }

    /// Writes an image index (or Docker manifest list) over manifests, in the order given.
    public static func writeIndex(
        _ manifests: [Descriptor], format: ImageFormat = .oci, annotations: [String: String]? = nil, to sink: some BlobSink
    ) throws -> (descriptor: Descriptor, index: ImageIndex) {
        let index = ImageIndex(mediaType: format.index, manifests: manifests, annotations: annotations)
        let data = try CanonicalJSON.encode(index)
        let digest = try sink.putBlob(data)
        return (Descriptor(mediaType: format.index, digest: digest, size: Int64(data.count)), index)
    }
}
