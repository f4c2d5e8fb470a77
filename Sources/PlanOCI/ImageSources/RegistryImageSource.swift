import Foundation

/// An image in a registry, pulled into the content store and read from there (a second read of the
/// same image downloads nothing).
public struct RegistryImageSource: ImageSource, Hashable {
    public var reference: ImageReference

    public init(reference: ImageReference) { self.reference = reference }

    public var pullsIntoStore: Bool { true }
    public var description: String { reference.description }

    public func load(_ request: ImageLoadRequest) async throws -> LoadedImage {
        let (store, client) = try request.registry()
        let pulled = request.layers ? try await client.pull(reference, platform: request.platform, into: store)
            : try await client.pullConfiguration(reference, platform: request.platform, into: store)
        var loaded = LoadedImage(name: pulled.pinnedReference.description, descriptor: pulled.manifestDescriptor,
                                 manifest: pulled.manifest, configuration: pulled.configuration,
                                 blobPath: { store.path(for: $0).path })
        loaded.index = pulled.index.map { LoadedImage.IndexSummary(descriptor: pulled.resolvedDescriptor, platforms: $0.platforms) }
        return loaded
    }
}
