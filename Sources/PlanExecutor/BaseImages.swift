import Foundation
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

/// Pulls and unpacks base images, each once per run and once per store.
public actor BaseImages {
    let store: ContentStore
    let rootfsDirectory: String
    let client: RegistryClient
    let platform: Platform
    var cache: [String: BaseImage] = [:]

    public init(cacheDirectory: String, insecureRegistries: Set<String>, credentials: RegistryCredentials,
                platform: Platform = .host) throws {
        let layout = CacheLayout(root: cacheDirectory)
        store = try ContentStore(root: URL(fileURLWithPath: layout.images))
        rootfsDirectory = layout.rootfs
        try FileManager.default.createDirectory(atPath: rootfsDirectory, withIntermediateDirectories: true)
        client = RegistryClient(configuration: .init(
            insecureRegistries: insecureRegistries,
            credentials: credentials))
        self.platform = platform
    }

    /// The image for `text` (an image reference with build arguments already expanded).
    public func image(_ text: String) async throws -> BaseImage {
        if let known = cache[text] { return known }
        let reference = try ImageReference(parsing: text)
        let pulled = try await client.pull(reference, platform: platform, into: store)
        let layerPaths = pulled.manifest.layers.map { store.path(for: $0.digest).path }
        let rootfs = rootfsDirectory + "/" + pulled.manifestDescriptor.digest.encoded
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
        let image = BaseImage(reference: reference, manifest: pulled.manifest, manifestDigest: pulled.manifestDescriptor.digest, configuration: pulled.configuration,
                              rootfs: rootfs, layerPaths: layerPaths)
        cache[text] = image
        return image
    }
}
