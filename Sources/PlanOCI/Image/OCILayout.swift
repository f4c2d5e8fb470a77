import Foundation

/// An OCI image layout in directory form: `oci-layout`, `index.json` and `blobs/sha256/<hex>`.
///
/// Names are the `org.opencontainers.image.ref.name` annotations of `index.json` entries, as
/// `skopeo` (`oci:DIR:NAME`) and `umoci` (`--image DIR:NAME`) read them. Blobs are written
/// atomically (temporary file in the layout's root, verified, renamed), and `index.json` is
/// replaced atomically; one writer at a time.
///
/// The tar form of a layout and the docker-archive form are the same content in a tar stream:
/// they are meant to be ``BlobSink``s/``BlobSource``s over the layer tar writer, fed by the same
/// ``copyImage(_:from:name:)``.
public struct OCILayout: BlobSink, BlobSource, Sendable {
    /// The layout's directory.
    public let root: URL
    let blobs: BlobDirectory

    /// The `imageLayoutVersion` this module writes and reads.
    public static let layoutVersion = "1.0.0"

    private init(root: URL) {
        self.root = root.standardizedFileURL
        blobs = BlobDirectory(root: self.root.path, temporaryDirectory: self.root.path)
    }

    var layoutFile: String { root.appendingPathComponent("oci-layout").path }
    var indexFile: String { root.appendingPathComponent("index.json").path }

    /// Creates a layout at `root` (the directory may exist; an existing layout is kept as it is).
    public static func create(at root: URL) throws -> OCILayout {
        let layout = OCILayout(root: root)
        try POSIXFile.makeDirectories(layout.blobs.blobsDirectory + "/sha256")
        if !POSIXFile.exists(layout.layoutFile) {
            try POSIXFile.writeAtomically(Data("{\"imageLayoutVersion\":\"\(layoutVersion)\"}".utf8), to: layout.layoutFile)
        } else {
            try layout.checkLayoutFile()
        }
        if !POSIXFile.exists(layout.indexFile) {
            try layout.writeIndex(ImageIndex(manifests: []))
        }
        return layout
    }

    /// Opens an existing layout; fails unless `oci-layout` names version 1.x and `index.json` exists.
    public static func open(at root: URL) throws -> OCILayout {
        let layout = OCILayout(root: root)
        try layout.checkLayoutFile()
        guard POSIXFile.exists(layout.indexFile) else { throw ImageError.layout(layout.root.path, "no index.json") }
        return layout
    }

    private func checkLayoutFile() throws {
        struct LayoutFile: Decodable { var imageLayoutVersion: String }
        guard let data = FileManager.default.contents(atPath: layoutFile) else {
            throw ImageError.layout(root.path, "no oci-layout file")
        }
        let file = try CanonicalJSON.decode(LayoutFile.self, from: data, what: "\(layoutFile)")
        guard file.imageLayoutVersion.hasPrefix("1.") else {
            throw ImageError.layout(root.path, "unsupported imageLayoutVersion \"\(file.imageLayoutVersion)\"")
        }
    }

    /// The layout's `index.json`.
    public func index() throws -> ImageIndex {
        guard let data = FileManager.default.contents(atPath: indexFile) else {
            throw ImageError.layout(root.path, "cannot read index.json")
        }
        return try CanonicalJSON.decode(ImageIndex.self, from: data, what: indexFile)
    }

    /// Replaces `index.json` atomically.
    public func writeIndex(_ index: ImageIndex) throws {
        var index = index
        index.schemaVersion = 2
        if index.mediaType == nil { index.mediaType = .ociIndex }
        try POSIXFile.writeAtomically(try CanonicalJSON.encode(index), to: indexFile)
    }

    /// Adds a manifest or index to `index.json` under `name` (replacing an entry of that name);
    /// without a name the entry is appended.
    public func add(_ descriptor: Descriptor, name: String?) throws {
        var index = try index()
        var entry = descriptor
        if let name {
            guard !name.isEmpty else { throw ImageError.layout(root.path, "empty image name") }
            entry.annotations = (entry.annotations ?? [:]).merging([Descriptor.refNameAnnotation: name]) { $1 }
            index.manifests.removeAll { $0.annotations?[Descriptor.refNameAnnotation] == name }
        }
        index.manifests.append(entry)
        try writeIndex(index)
    }

    /// The `index.json` entry named `name`; without a name, the only entry.
    public func descriptor(named name: String?) throws -> Descriptor {
        let entries = try index().manifests
        if let name {
            guard let d = entries.first(where: { $0.annotations?[Descriptor.refNameAnnotation] == name }) else {
                throw ImageError.notFound(name, root.path)
            }
            return d
        }
        guard entries.count == 1, let only = entries.first else {
            throw ImageError.layout(root.path, "index.json has \(entries.count) entries; name one")
        }
        return only
    }

    /// Resolves a name to an image manifest (choosing `platform` from an index) and its config.
    public func image(named name: String?, platform: Platform = .host) throws -> (descriptor: Descriptor, manifest: Manifest, configuration: ImageConfiguration) {
        var descriptor = try descriptor(named: name)
        for _ in 0..<4 where descriptor.mediaType.isIndex {
            let index = try CanonicalJSON.decode(ImageIndex.self, from: try blob(descriptor.digest), what: "index \(descriptor.digest)")
            guard let chosen = index.manifest(for: platform) else {
                throw ImageError.noMatchingPlatform(platform, index.platforms)
            }
            descriptor = chosen
        }
        guard descriptor.mediaType.isManifest else { throw ImageError.unsupportedMediaType(descriptor.mediaType.rawValue) }
        let manifest = try CanonicalJSON.decode(Manifest.self, from: try blob(descriptor.digest), what: "manifest \(descriptor.digest)")
        let config = try CanonicalJSON.decode(
            ImageConfiguration.self, from: try blob(manifest.config.digest), what: "config \(manifest.config.digest)")
        return (descriptor, manifest, config)
    }

    /// Copies an image (a manifest, or an index with all its manifests) and every blob it
    /// references from `source` into this layout, then names it. Blobs already here are skipped;
    /// copied blobs are verified.
    public func copyImage(_ descriptor: Descriptor, from source: some BlobSource, name: String?) throws {
        try copyTree(descriptor, from: source, depth: 0)
        try add(descriptor, name: name)
    }

    private func copyTree(_ descriptor: Descriptor, from source: some BlobSource, depth: Int) throws {
        guard depth < 4 else { throw ImageError.invalid("image index", "nested more than 4 deep") }
        if descriptor.mediaType.isIndex {
            let data = try source.blob(descriptor.digest)
            let index = try CanonicalJSON.decode(ImageIndex.self, from: data, what: "index \(descriptor.digest)")
            for child in index.manifests { try copyTree(child, from: source, depth: depth + 1) }
            try copyBlob(descriptor, data: data, from: source)
        } else if descriptor.mediaType.isManifest {
            let data = try source.blob(descriptor.digest)
            let manifest = try CanonicalJSON.decode(Manifest.self, from: data, what: "manifest \(descriptor.digest)")
            for blob in [manifest.config] + manifest.layers { try copyBlob(blob, data: nil, from: source) }
            try copyBlob(descriptor, data: data, from: source)
        } else {
            try copyBlob(descriptor, data: nil, from: source)
        }
    }

    private func copyBlob(_ descriptor: Descriptor, data: Data?, from source: some BlobSource) throws {
        if hasBlob(descriptor.digest) { return }
        if let store = source as? ContentStore {
            // Stream file to file: layers can be large.
            try blobs.importFile(store.path(for: descriptor.digest).path, digest: descriptor.digest, size: descriptor.size)
        } else {
            try blobs.write(try data ?? source.blob(descriptor.digest), expecting: descriptor.digest)
        }
    }

    // MARK: BlobSink, BlobSource

    /// Writes a blob into `blobs/`.
    public func putBlob(_ data: Data) throws -> Digest { try blobs.write(data) }

    /// Copies the file at `path` in as the blob `digest`, streaming; fails (storing nothing) when its
    /// bytes do not have that digest and size.
    public func importBlob(fromFile path: String, digest: Digest, size: Int64?) throws {
        if blobs.contains(digest) { return }
        try blobs.importFile(path, digest: digest, size: size)
    }
    /// Whether `blobs/` has the blob.
    public func hasBlob(_ digest: Digest) -> Bool { blobs.contains(digest) }
    /// Streams a blob into `blobs/`.
    public func putBlob(streaming source: ByteSource) throws -> (digest: Digest, size: Int64) {
        try blobs.write(streaming: source)
    }
    /// Reads a blob from `blobs/`.
    public func blob(_ digest: Digest) throws -> Data { try blobs.read(digest) }
    /// The file that holds a blob.
    public func path(for digest: Digest) -> URL { URL(fileURLWithPath: blobs.path(for: digest)) }
}

extension BlobDirectory {
    /// Copies a file into the directory as a blob, streaming, verifying digest and size.
    func importFile(_ source: String, digest: Digest, size: Int64?) throws {
        guard let handle = FileHandle(forReadingAtPath: source) else {
            throw ContentStoreError.io("open", source, "cannot open for reading")
        }
        defer { try? handle.close() }
        let w = try writer(expecting: digest, size: size)
        while true {
            let chunk: Data
            do {
                chunk = try handle.read(upToCount: 1 << 20) ?? Data()
            } catch {
                w.abort()
                throw ContentStoreError.io("read", source, (error as NSError).localizedDescription)
            }
            if chunk.isEmpty { break }
            try w.write(chunk)
        }
        try w.commit()
    }
}
