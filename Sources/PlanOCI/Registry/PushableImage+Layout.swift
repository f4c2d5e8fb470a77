import Foundation

extension PushableImage {
    /// Writes the image as a new OCI layout at `path`, its `index.json` naming the root document `name`
    /// (`org.opencontainers.image.ref.name`). The layout is built in a folder beside `path` and renamed
    /// into place, so it appears whole or not at all; `path` must not exist or be an empty folder — an
    /// existing layout is never replaced or added to. Blobs still in a registry are downloaded, verified.
    /// Returns the root document's descriptor as `index.json` lists it.
    @discardableResult
    public func writeLayout(at path: String, name: String?, client: RegistryClient) async throws -> Descriptor {
        var trimmed = path
        while trimmed.count > 1, trimmed.hasSuffix("/") { trimmed.removeLast() }
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: trimmed, isDirectory: &isDirectory) {
            let entries = isDirectory.boolValue ? ((try? FileManager.default.contentsOfDirectory(atPath: trimmed)) ?? ["?"]) : ["?"]
            guard entries.isEmpty else {
                throw ImageError.layout(trimmed, "exists and is not an empty folder; refusing to replace or add to it")
            }
        }
        let parent = (trimmed as NSString).deletingLastPathComponent
        try POSIXFile.makeDirectories(parent.isEmpty ? "." : parent)
        let folder = try AtomicFolder(prefix: trimmed + ".plan-\(getpid())-")
        let layout = try OCILayout.create(at: URL(fileURLWithPath: folder.path))
        var downloads: ContentStore?
        for blob in blobs {
            switch blob.content {
            case .file(let file):
                try layout.importBlob(fromFile: file, digest: blob.descriptor.digest, size: blob.descriptor.size)
            case .data(let data):
                _ = try layout.blobs.write(data, expecting: blob.descriptor.digest)
            case .registry(let source):
                // A content store over the layout's own folder: the same `blobs/sha256/HEX` files.
                if downloads == nil { downloads = try ContentStore(root: URL(fileURLWithPath: folder.path)) }
                if let downloads { try await client.fetchBlob(blob.descriptor, of: source, into: downloads) }
            }
        }
        try? FileManager.default.removeItem(atPath: folder.path + "/tmp")
        for document in manifests + [root] where !layout.hasBlob(document.descriptor.digest) {
            _ = try layout.blobs.write(document.data, expecting: document.descriptor.digest)
        }
        var entry = root.descriptor
        entry.annotations = nil
        try layout.add(entry, name: name)
        do throws(AtomicFileError) {
            try folder.commit(to: trimmed, settingAsideAt: trimmed + ".plan-old-\(getpid())")
        } catch {
            throw ImageError.layout(trimmed, error.description)
        }
        return entry
    }
}
