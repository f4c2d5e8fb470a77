/// An image pulled into a ``ContentStore``: what the reference resolved to and the platform
/// manifest chosen, with its configuration. Every blob named here is in the store.
public struct PulledImage: Hashable, Sendable {
    /// The reference as pulled.
    public var reference: ImageReference
    /// What the reference resolved to: the image index (manifest list) or the manifest.
    public var resolvedDescriptor: Descriptor
    /// The index, when the reference named one.
    public var index: ImageIndex?
    /// The platform manifest's descriptor.
    public var manifestDescriptor: Descriptor
    /// The platform manifest.
    public var manifest: Manifest
    /// The image configuration.
    public var configuration: ImageConfiguration
    /// How many blobs (config and layers) were downloaded; 0 when all were in the store.
    public var downloadedBlobs: Int

    /// `registry/repository@digest` of the platform manifest.
    public var pinnedReference: ImageReference { reference.with(tag: nil, digest: manifestDescriptor.digest) }
}
