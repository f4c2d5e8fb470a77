import Foundation
import PlanCompiler
import PlanOCI

/// A base image made ready for stages: pulled into the store and unpacked once into a root filesystem
/// that stages share read-only.
public struct BaseImage: Sendable {
    public var reference: ImageReference
    public var manifest: Manifest
    /// The digest of the (platform) manifest: what the build cache keys on.
    public var manifestDigest: Digest
    public var configuration: ImageConfiguration
    /// The unpacked root filesystem (never written to).
    public var rootfs: String
    /// Where each layer blob lives, in order.
    public var layerPaths: [String]
}

/// Pulls and unpacks the images a plan reads, each once per platform per run and once per store. Before the
/// build the caller pulls every image use the binder names (``resolve(_:)``, which the bind pass needs); the
/// executor then asks for the same images again (``image(_:platform:)``) and gets the ones already pulled.
/// An image is chosen from its index for the platform asked; the unpacked root filesystem is keyed by the
/// platform manifest's digest.
public actor BaseImages {
    let store: ContentStore
    let rootfsDirectory: String
    let client: RegistryClient
    /// `--locked`: the manifests to pull by digest instead of asking for tags.
    let pins: ImagePins
    var pulled: [ImageUse: PulledImage] = [:]
    var unpacked: [ImageUse: BaseImage] = [:]

    public init(cacheDirectory: String, insecureRegistries: Set<String>, credentials: RegistryCredentials,
                pins: ImagePins = ImagePins()) throws {
        let layout = CacheLayout(root: cacheDirectory)
        store = try ContentStore(root: URL(fileURLWithPath: layout.images))
        rootfsDirectory = layout.rootfs
        try FileManager.default.createDirectory(atPath: rootfsDirectory, withIntermediateDirectories: true)
        client = RegistryClient(configuration: .init(
            insecureRegistries: insecureRegistries,
            credentials: credentials))
        self.pins = pins
    }

    /// Pulls `use`'s image for its platform (manifest, configuration and layers) into the store and says what
    /// binding needs of it: the platform manifest's digest and the configuration. An image without the platform
    /// is a `RegistryError.noMatchingPlatform` naming the image, the platform and the platforms it has.
    public func resolve(_ use: ImageUse) async throws -> ResolvedImage {
        let image = try await pull(use)
        return ResolvedImage(manifestDigest: image.manifestDescriptor.digest,
                             configuration: BoundImageConfiguration(image: image.configuration.config))
    }

    private func pull(_ use: ImageUse) async throws -> PulledImage {
        if let known = pulled[use] { return known }
        let image = try await client.pull(pins.pinned(use.reference, platform: use.platform) ?? use.reference,
                                          platform: use.platform, into: store)
        pulled[use] = image
        return image
    }

    /// The image `reference` for `platform`, pulled (if ``resolve(_:)`` did not already) and unpacked.
    public func image(_ reference: ImageReference, platform: Platform) async throws -> BaseImage {
        let use = ImageUse(reference: reference, platform: platform)
        if let known = unpacked[use] { return known }
        let image = try await pull(use)
        let layerPaths = image.manifest.layers.map { store.path(for: $0.digest).path }
        let rootfs = rootfsDirectory + "/" + image.manifestDescriptor.digest.encoded
        if !FileManager.default.fileExists(atPath: rootfs) {
            let temporary = rootfs + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
            try FileManager.default.createDirectory(atPath: temporary, withIntermediateDirectories: true)
            do {
                for path in layerPaths { _ = try LayerApplier().apply(layerAt: path, to: temporary) }
                if rename(temporary, rootfs) != 0 {
                    // Another process unpacked it first: use theirs.
                    try? FileManager.default.removeItem(atPath: temporary)
                }
            } catch {
                try? FileManager.default.removeItem(atPath: temporary)
                throw error
            }
        }
        let base = BaseImage(reference: reference, manifest: image.manifest, manifestDigest: image.manifestDescriptor.digest,
                             configuration: image.configuration, rootfs: rootfs, layerPaths: layerPaths)
        unpacked[use] = base
        return base
    }
}
