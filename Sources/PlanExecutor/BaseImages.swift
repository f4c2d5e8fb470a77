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

/// Pulls and unpacks the images a plan reads, each once per run and once per store. Before the build
/// the caller pulls every image the binder names (``resolve(_:)``, which the bind pass needs); the
/// executor then asks for the same images again (``image(_:)``) and gets the ones already pulled.
public actor BaseImages {
    let store: ContentStore
    let rootfsDirectory: String
    let client: RegistryClient
    let platform: Platform
    /// `--locked`: the manifests to pull by digest instead of asking for tags.
    let pins: ImagePins
    var pulled: [ImageReference: PulledImage] = [:]
    var unpacked: [ImageReference: BaseImage] = [:]

    public init(cacheDirectory: String, insecureRegistries: Set<String>, credentials: RegistryCredentials,
                platform: Platform = .host, pins: ImagePins = ImagePins()) throws {
        let layout = CacheLayout(root: cacheDirectory)
        store = try ContentStore(root: URL(fileURLWithPath: layout.images))
        rootfsDirectory = layout.rootfs
        try FileManager.default.createDirectory(atPath: rootfsDirectory, withIntermediateDirectories: true)
        client = RegistryClient(configuration: .init(
            insecureRegistries: insecureRegistries,
            credentials: credentials))
        self.platform = platform
        self.pins = pins
    }

    /// Pulls `reference` (manifest, configuration and layers) into the store and says what binding needs
    /// of it: the platform manifest's digest and the configuration.
    public func resolve(_ reference: ImageReference) async throws -> ResolvedImage {
        let image = try await pull(reference)
        return ResolvedImage(manifestDigest: image.manifestDescriptor.digest,
                             configuration: BoundImageConfiguration(image: image.configuration.config))
    }

    private func pull(_ reference: ImageReference) async throws -> PulledImage {
        if let known = pulled[reference] { return known }
        let image = try await client.pull(pins.pinned(reference, platform: platform) ?? reference, platform: platform, into: store)
        pulled[reference] = image
        return image
    }

    /// The image `reference`, pulled (if ``resolve(_:)`` did not already) and unpacked.
    public func image(_ reference: ImageReference) async throws -> BaseImage {
        if let known = unpacked[reference] { return known }
        let image = try await pull(reference)
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
        unpacked[reference] = base
        return base
    }
}
