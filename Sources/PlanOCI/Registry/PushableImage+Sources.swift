import Foundation

/// Which part of an image index to push or copy.
public enum PlatformSelection: Sendable, Hashable {
    /// The whole index, every platform: the pushed digest is the index's.
    case all
    /// The manifest an index lists for this platform (its digest, not the index's, is pushed). A source
    /// that is one manifest is taken as it is, whatever its platform (as skopeo does).
    case one(Platform)
}

/// An image ready to push, and the temporary files (an extracted archive) to remove once pushed.
public struct StagedPushableImage: Sendable {
    public var image: PushableImage
    /// Removes the temporary files; call it when the push is over.
    public var cleanUp: @Sendable () -> Void

    public init(image: PushableImage, cleanUp: @escaping @Sendable () -> Void = {}) {
        self.image = image
        self.cleanUp = cleanUp
    }
}

/// Why an image cannot be read for pushing.
public enum PushSourceError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The image store has no image under this reference.
    case notStored(String)

    public var description: String {
        switch self {
        case .notStored(let reference): "the image store has no image named \(reference)"
        }
    }
}

extension PushableImage {
    /// The image `source` names, ready to push: an OCI layout's or archive's entry (an index with
    /// every manifest it lists, or the manifest `selection` chooses), a docker archive's image (an OCI
    /// manifest over the archive's layers, uncompressed, and its config), or a registry image (every
    /// document fetched; blobs read from that registry as `.registry`, so a push to the same registry
    /// mounts them and a push elsewhere streams them, never through a file).
    public static func load(
        from source: any ImageSource, selection: PlatformSelection, client: RegistryClient
    ) async throws -> StagedPushableImage {
        switch source {
        case let oci as OCILayoutImageSource:
            let layout = try OCILayout.open(at: URL(fileURLWithPath: oci.path))
            return StagedPushableImage(image: try await fromLayout(layout, name: oci.name, selection: selection))
        case let archive as OCIArchiveImageSource:
            return try await staged("plan-oci-archive-") { staging in
                let layout = try OCIArchive.extract(archive.path, to: URL(fileURLWithPath: staging))
                return try await fromLayout(layout, name: archive.name, selection: selection)
            }
        case let archive as DockerArchiveImageSource:
            return try await staged("plan-docker-archive-") { staging in
                let layout = try OCILayout.create(at: URL(fileURLWithPath: staging))
                let descriptor = try DockerArchive.read(archive.path, tag: archive.tag, into: layout)
                return try await collect(descriptor, selection: selection, label: archive.description,
                                         document: { try layout.blob($0.digest) },
                                         content: { .file(layout.path(for: $0.digest).path) })
            }
        case let registry as RegistryImageSource:
            return StagedPushableImage(image: try await fromRegistry(registry.reference, selection: selection, client: client))
        default:
            throw ImageError.invalid("image source \(source)", "cannot be pushed")
        }
    }

    /// The image (manifest or index) named `name` in `layout` (its only entry without a name).
    public static func fromLayout(_ layout: OCILayout, name: String?, selection: PlatformSelection) async throws -> PushableImage {
        let descriptor = try layout.descriptor(named: name)
        return try await collect(descriptor, selection: selection, label: layout.root.path + (name.map { ":" + $0 } ?? ""),
                                 document: { try layout.blob($0.digest) },
                                 content: { .file(layout.path(for: $0.digest).path) })
    }

    /// A registry image: the documents fetched (verified), the blobs left in the registry.
    public static func fromRegistry(
        _ reference: ImageReference, selection: PlatformSelection, client: RegistryClient
    ) async throws -> PushableImage {
        let top = try await client.fetchManifest(reference)
        return try await collect(top.descriptor, data: top.data, selection: selection, label: reference.description,
                                 document: { try await client.fetchManifest(reference, $0.digest.description).data },
                                 content: { _ in .registry(reference) })
    }

    /// An image in the content store under `reference` (pulled, or stored by a build). What the store
    /// lacks — the other platforms of a pulled index — is read from the registry `reference` names:
    /// documents fetched, blobs streamed from there (mounted when pushed to the same registry).
    public static func fromStore(
        _ store: ContentStore, reference: ImageReference, selection: PlatformSelection, client: RegistryClient
    ) async throws -> PushableImage {
        guard let digest = try store.digest(for: reference) else { throw PushSourceError.notStored(reference.description) }
        let origin = reference.with(tag: nil, digest: nil)
        func document(_ descriptor: Descriptor) async throws -> Data {
            if store.contains(descriptor.digest) { return try store.data(for: descriptor.digest, verify: true) }
            return try await client.fetchManifest(origin, descriptor.digest.description).data
        }
        let top = try await document(Descriptor(mediaType: .ociManifest, digest: digest, size: 0))
        let type = RegistryClient.sniffMediaType(top) ?? .ociManifest
        return try await collect(Descriptor(mediaType: type, digest: digest, size: Int64(top.count)), data: top,
                                 selection: selection, label: reference.description, document: document,
                                 content: { store.contains($0.digest) ? .file(store.path(for: $0.digest).path) : .registry(origin) })
    }

    /// Walks the document `root` names (its bytes `data`, else read with `document`): an index chosen down
    /// to one platform's manifest when `selection` says so, else with every manifest it lists; each
    /// document's bytes checked against its digest; each manifest's config and layers as `content` says.
    static func collect(
        _ root: Descriptor, data: Data? = nil, selection: PlatformSelection, label: String,
        document: (Descriptor) async throws -> Data, content: (Descriptor) -> BlobContent
    ) async throws -> PushableImage {
        func read(_ descriptor: Descriptor) async throws -> (Descriptor, Data) {
            let bytes = try await document(descriptor)
            return try checked(descriptor, bytes)
        }
        func checked(_ descriptor: Descriptor, _ bytes: Data) throws -> (Descriptor, Data) {
            let actual = Digest.sha256(of: bytes)
            guard actual == descriptor.digest else { throw RegistryError.digestMismatch("\(label): document", descriptor.digest, actual) }
            var descriptor = descriptor
            descriptor.mediaType = RegistryClient.sniffMediaType(bytes) ?? descriptor.mediaType
            descriptor.size = Int64(bytes.count)
            return (descriptor, bytes)
        }
        var (top, topData) = if let data { try checked(root, data) } else { try await read(root) }
        if case .one(let platform) = selection {
            var depth = 0
            while top.mediaType.isIndex {
                depth += 1
                guard depth <= 4 else { throw RegistryError.invalidDocument("image index of \(label)", "indexes nested more than 4 deep") }
                let index = try RegistryClient.decode(ImageIndex.self, topData, what: "image index \(top.digest) of \(label)")
                guard let chosen = index.manifest(for: platform) else {
                    throw RegistryError.noMatchingPlatform(label, platform, index.platforms)
                }
                (top, topData) = try await read(chosen)
                top.platform = chosen.platform
            }
        }
        var manifests: [PushDocument] = []
        var blobs: [PushBlob] = []
        func walk(_ descriptor: Descriptor, _ bytes: Data, depth: Int) async throws {
            if descriptor.mediaType.isIndex {
                guard depth < 4 else { throw RegistryError.invalidDocument("image index of \(label)", "indexes nested more than 4 deep") }
                let index = try RegistryClient.decode(ImageIndex.self, bytes, what: "image index \(descriptor.digest) of \(label)")
                for child in index.manifests {
                    let (childDescriptor, childBytes) = try await read(child)
                    try await walk(childDescriptor, childBytes, depth: depth + 1)
                    manifests.append(PushDocument(descriptor: childDescriptor, data: childBytes))
                }
            } else {
                let manifest = try RegistryClient.decode(Manifest.self, bytes, what: "manifest \(descriptor.digest) of \(label)")
                for blob in [manifest.config] + manifest.layers {
                    blobs.append(PushBlob(descriptor: blob, content: content(blob)))
                }
            }
        }
        try await walk(top, topData, depth: 0)
        return PushableImage(root: PushDocument(descriptor: top, data: topData), manifests: manifests, blobs: blobs)
    }

    /// Runs `make` with a fresh temporary folder, removed when it fails, else by the result's `cleanUp`.
    static func staged(
        _ prefix: String, _ make: (String) async throws -> PushableImage
    ) async throws -> StagedPushableImage {
        let staging = NSTemporaryDirectory() + prefix + UUID().uuidString
        do {
            let image = try await make(staging)
            return StagedPushableImage(image: image, cleanUp: { try? FileManager.default.removeItem(atPath: staging) })
        } catch {
            try? FileManager.default.removeItem(atPath: staging)
            throw error
        }
    }
}
