import Foundation

/// Where the bytes of a blob to push come from.
public enum BlobContent: Sendable {
    /// A file holding exactly the blob: streamed, never read whole.
    case file(String)
    /// Bytes in memory (configurations, small documents).
    case data(Data)
    /// The same blob in another repository: mounted when that repository is on the registry pushed to,
    /// else streamed from there into the upload (never through a file).
    case registry(ImageReference)
}

/// A blob to push: what it is, and where its bytes are.
public struct PushBlob: Sendable {
    public var descriptor: Descriptor
    public var content: BlobContent

    public init(descriptor: Descriptor, content: BlobContent) {
        self.descriptor = descriptor
        self.content = content
    }
}

/// A manifest or index to push, as the exact bytes its digest names.
public struct PushDocument: Sendable {
    public var descriptor: Descriptor
    public var data: Data

    public init(descriptor: Descriptor, data: Data) {
        self.descriptor = descriptor
        self.data = data
    }
}

/// Everything ``RegistryClient/push(_:to:events:)`` sends for one image: the blobs (layers and
/// configurations), the manifests an index lists, and the top document (a manifest or an index),
/// which is pushed last so that a registry never holds a document whose content is missing.
public struct PushableImage: Sendable {
    /// The manifest or index the reference will name.
    public var root: PushDocument
    /// The manifests ``root`` lists when it is an index, pushed by digest before it.
    public var manifests: [PushDocument]
    /// Every blob the documents refer to, each once.
    public var blobs: [PushBlob]

    public init(root: PushDocument, manifests: [PushDocument] = [], blobs: [PushBlob]) {
        self.root = root
        self.manifests = manifests
        var seen = Set<Digest>()
        self.blobs = blobs.filter { seen.insert($0.descriptor.digest).inserted }
    }

    /// The image (manifest or index) `descriptor` names in `layout`, with its blobs read from the layout's
    /// files. An index brings every manifest it lists (an index nested in an index too).
    public init(layout: OCILayout, root descriptor: Descriptor) throws {
        var manifests: [PushDocument] = []
        var blobs: [PushBlob] = []
        func file(_ blob: Descriptor) -> PushBlob {
            PushBlob(descriptor: blob, content: .file(layout.path(for: blob.digest).path))
        }
        func walk(_ descriptor: Descriptor, depth: Int) throws -> PushDocument {
            let data = try layout.blob(descriptor.digest)
            guard Digest.sha256(of: data) == descriptor.digest else {
                throw RegistryError.digestMismatch("\(layout.root.path): blob", descriptor.digest, Digest.sha256(of: data))
            }
            let document = PushDocument(descriptor: descriptor, data: data)
            let type = RegistryClient.sniffMediaType(data) ?? descriptor.mediaType
            if type.isIndex {
                guard depth < 4 else { throw RegistryError.invalidDocument("image index \(descriptor.digest)", "indexes nested more than 4 deep") }
                let index = try RegistryClient.decode(ImageIndex.self, data, what: "image index \(descriptor.digest)")
                for child in index.manifests {
                    let childDocument = try walk(child, depth: depth + 1)
                    manifests.append(childDocument)
                }
            } else {
                let manifest = try RegistryClient.decode(Manifest.self, data, what: "manifest \(descriptor.digest)")
                blobs.append(file(manifest.config))
                blobs += manifest.layers.map(file)
            }
            return document
        }
        let root = try walk(descriptor, depth: 0)
        self.init(root: root, manifests: manifests, blobs: blobs)
    }

    /// The bytes all blobs hold together.
    public var blobBytes: Int64 { blobs.reduce(0) { $0 + $1.descriptor.size } }
}

/// What happens during a push, for progress displays.
public enum PushEvent: Sendable {
    /// The registry has the blob already: nothing is sent.
    case blobPresent(Descriptor)
    /// The blob was mounted from another repository of the registry (named): nothing is sent.
    case blobMounted(Descriptor, from: String)
    /// The blob's upload starts (again, after a retry).
    case blobSending(Descriptor)
    /// Bytes of a blob went out.
    case bytesSent(Digest, Int)
    /// The blob's upload completed.
    case blobSent(Descriptor)
    /// A manifest or index was stored under a tag or digest.
    case manifestPushed(Descriptor, reference: String)
}

/// What a push did.
public struct PushResult: Sendable, Hashable {
    /// The reference pushed to.
    public var reference: ImageReference
    /// The top document (manifest or index): its digest is what to deploy.
    public var descriptor: Descriptor
    /// Blobs sent, mounted, and found present.
    public var uploaded: Int
    public var mounted: Int
    public var present: Int
    /// Blob bytes sent.
    public var bytesSent: Int64

    /// The reference pinned to the pushed digest: `REGISTRY/REPO@sha256:…`.
    public var pinned: ImageReference { reference.with(tag: nil, digest: descriptor.digest) }
}
