import Foundation

/// A place an image is read from, as the user names it: a registry reference (`alpine:3.20`), an OCI
/// layout folder (`oci:PATH[:NAME]`), an OCI archive (`oci-archive:PATH[:NAME]`) or a docker archive
/// (`docker-archive:PATH[:NAME:TAG]`). ``ImageSources/parse(_:)`` reads that spelling; each kind is one
/// conforming type. Reading images from a new kind of place is one new type and one prefix in `parse`.
public protocol ImageSource: Sendable, CustomStringConvertible {
    /// Whether reading the image pulls it into a content store: the request's `registry` is then called
    /// (and the caller holds whatever lock guards that store). Sources that read files never use it.
    var pullsIntoStore: Bool { get }

    /// Resolves the image for `request.platform`: its manifest and configuration, and where its blobs
    /// can be read. Call the result's `cleanUp` when done with it.
    func load(_ request: ImageLoadRequest) async throws -> LoadedImage
}

/// What a caller asks of an ``ImageSource``.
public struct ImageLoadRequest: Sendable {
    /// The platform to choose from a multi-platform image.
    public var platform: Platform
    /// Whether the layers are needed; false: only the manifest and configuration (a registry then
    /// fetches no layer).
    public var layers: Bool
    /// The content store and registry client a pulling source uses, made only when such a source asks.
    public var registry: @Sendable () throws -> (store: ContentStore, client: RegistryClient)

    public init(platform: Platform = .host, layers: Bool = true,
                registry: @escaping @Sendable () throws -> (store: ContentStore, client: RegistryClient)) {
        self.platform = platform
        self.layers = layers
        self.registry = registry
    }
}

/// A resolved image: its manifest, configuration, and where its blobs can be read.
public struct LoadedImage: Sendable {
    /// How to name it in messages: the pinned reference of a pulled image, else the source's spelling.
    public var name: String
    /// The platform manifest's descriptor.
    public var descriptor: Descriptor
    public var manifest: Manifest
    public var configuration: ImageConfiguration
    /// The file holding a blob, for streaming layers.
    public var blobPath: @Sendable (Digest) -> String
    /// Removes temporary files made to read an archive.
    public var cleanUp: @Sendable () -> Void
    /// The image index (or manifest list) the image was chosen from, when the source named one.
    public var index: IndexSummary?

    /// What an image index offers: its descriptor and the platforms of its manifests, in its order.
    public struct IndexSummary: Sendable, Hashable {
        public var descriptor: Descriptor
        public var platforms: [Platform]

        public init(descriptor: Descriptor, platforms: [Platform]) {
            self.descriptor = descriptor
            self.platforms = platforms
        }
    }

    public init(name: String, descriptor: Descriptor, manifest: Manifest, configuration: ImageConfiguration,
                blobPath: @escaping @Sendable (Digest) -> String, cleanUp: @escaping @Sendable () -> Void = {}) {
        self.name = name
        self.descriptor = descriptor
        self.manifest = manifest
        self.configuration = configuration
        self.blobPath = blobPath
        self.cleanUp = cleanUp
    }

    /// The image `name` (or the only one) of `layout`, for `platform`; `label` names the layout.
    init(in layout: OCILayout, name: String?, platform: Platform, label: String) throws {
        let (descriptor, manifest, configuration) = try layout.image(named: name, platform: platform)
        let root = layout.root
        self.init(name: label + (name.map { ":" + $0 } ?? ""), descriptor: descriptor, manifest: manifest,
                  configuration: configuration,
                  blobPath: { root.appendingPathComponent("blobs/\($0.algorithm)/\($0.encoded)").path })
        let top = try layout.descriptor(named: name)
        if top.mediaType.isIndex {
            let index = try CanonicalJSON.decode(ImageIndex.self, from: try layout.blob(top.digest), what: "index \(top.digest)")
            self.index = IndexSummary(descriptor: top, platforms: index.platforms)
        }
    }
}

/// Why an image's spelling names no image source.
public enum ImageSourceError: Error, Equatable, Sendable, CustomStringConvertible {
    /// `oci:`, `oci-archive:` or `docker-archive:` with nothing after it (the text as written).
    case noPath(String)
    /// `docker-archive:PATH:` followed by nothing, or by a source index (`@N`).
    case notADockerArchiveReference(String)
    /// Not a registry reference either (the text, why).
    case notAnImageReference(String, String)

    public var description: String {
        switch self {
        case .noPath(let text): "`\(text)` names no path"
        case .notADockerArchiveReference(let text):
            "`\(text)`: after the archive's path comes the image's name as the archive "
                + "tags it (docker-archive:PATH:NAME:TAG); source indexes (@N) are not supported"
        case .notAnImageReference(let text, let reason): "`\(text)` is not an image reference: \(reason)"
        }
    }
}

/// The spelling of image sources.
public enum ImageSources {
    /// The source `text` names: a `docker-archive:`, `oci:` or `oci-archive:` prefix, else a registry reference.
    public static func parse(_ text: String) throws(ImageSourceError) -> any ImageSource {
        if text.hasPrefix(DockerArchiveImageSource.prefix) {
            return try DockerArchiveImageSource(parsing: text)
        }
        for prefix in [OCILayoutImageSource.prefix, OCIArchiveImageSource.prefix] where text.hasPrefix(prefix) {
            let (path, name) = splitName(text.dropFirst(prefix.count))
            guard !path.isEmpty else { throw .noPath(text) }
            return prefix == OCILayoutImageSource.prefix ? OCILayoutImageSource(path: path, name: name)
                : OCIArchiveImageSource(path: path, name: name)
        }
        do {
            return RegistryImageSource(reference: try ImageReference(parsing: text))
        } catch {
            throw .notAnImageReference(text, "\(error)")
        }
    }

    /// `PATH[:NAME]`: a name never holds a slash, so the last colon after the last slash splits.
    static func splitName(_ rest: Substring) -> (path: String, name: String?) {
        let lastSlash = rest.lastIndex(of: "/") ?? rest.startIndex
        if let colon = rest[lastSlash...].lastIndex(of: ":"), colon != rest.startIndex {
            return (String(rest[..<colon]), String(rest[rest.index(after: colon)...]))
        }
        return (String(rest), nil)
    }
}
