import Foundation

extension LoadedImage {
    /// The image a ``ContentStore`` holds under `reference` (recorded by a pull, or by `plan run`'s
    /// `type=image` output), for `platform`; nil when the store has no image of that name.
    public init?(storedAs reference: ImageReference, in store: ContentStore, platform: Platform = .host) throws {
        guard let digest = try store.digest(for: reference) else { return nil }
        var data = try store.data(for: digest)
        var descriptor = Descriptor(mediaType: RegistryClient.sniffMediaType(data) ?? .ociManifest, digest: digest, size: Int64(data.count))
        var summary: IndexSummary?
        for _ in 0..<4 where descriptor.mediaType.isIndex {
            let index = try CanonicalJSON.decode(ImageIndex.self, from: data, what: "index \(descriptor.digest)")
            if summary == nil { summary = IndexSummary(descriptor: descriptor, platforms: index.platforms) }
            guard let chosen = index.manifest(for: platform) else { throw ImageError.noMatchingPlatform(platform, index.platforms) }
            descriptor = chosen
            data = try store.data(for: chosen.digest)
        }
        guard descriptor.mediaType.isManifest else { throw ImageError.unsupportedMediaType(descriptor.mediaType.rawValue) }
        let manifest = try CanonicalJSON.decode(Manifest.self, from: data, what: "manifest \(descriptor.digest)")
        let configuration = try CanonicalJSON.decode(
            ImageConfiguration.self, from: try store.data(for: manifest.config.digest), what: "config \(manifest.config.digest)")
        self.init(name: reference.description, descriptor: descriptor, manifest: manifest, configuration: configuration,
                  blobPath: { store.path(for: $0).path })
        index = summary
    }
}
