import Foundation

/// `docker save` / `docker load` archives (`docker-archive:` in skopeo's words): a tar holding
/// `manifest.json`, the image config, and each layer as an uncompressed tar.
public enum DockerArchive {
    struct ManifestEntry: Codable {
        var config: String
        var repoTags: [String]?
        var layers: [String]

        enum CodingKeys: String, CodingKey {
            case config = "Config"
            case repoTags = "RepoTags"
            case layers = "Layers"
        }
    }

    /// Writes an image (a manifest, not an index) as a docker archive at `path`, atomically. Compressed
    /// layers are stored uncompressed, and each is checked against the config's `diff_ids`.
    public static func write(manifest descriptor: Descriptor, from source: some BlobSource, repoTags: [String],
                             to path: String) throws {
        guard descriptor.mediaType.isManifest else {
            throw ImageError.invalid("docker archive", "a docker archive holds one image; choose a platform first")
        }
        let manifest = try CanonicalJSON.decode(Manifest.self, from: try source.blob(descriptor.digest),
                                                what: "manifest \(descriptor.digest)")
        let configBytes = try source.blob(manifest.config.digest)
        let config = try CanonicalJSON.decode(ImageConfiguration.self, from: configBytes, what: "image config")
        guard config.rootfs.diffIDs.count == manifest.layers.count else {
            throw ImageError.invalid("image config", "\(config.rootfs.diffIDs.count) diff_ids for \(manifest.layers.count) layers")
        }
        var files: [(name: String, bytes: [UInt8])] = [("\(manifest.config.digest.encoded).json", [UInt8](configBytes))]
        var layerNames: [String] = []
        for (layer, diffID) in zip(manifest.layers, config.rootfs.diffIDs) {
            let stored = [UInt8](try source.blob(layer.digest))
            let plain = try uncompressed(stored)
            guard Digest.sha256(of: plain) == diffID else {
                throw ImageError.invalid("layer \(layer.digest)", "its uncompressed content is not \(diffID)")
            }
            let name = "\(diffID.encoded).tar"
            if !layerNames.contains(name) { files.append((name, plain)) }
            layerNames.append(name)
        }
        let entry = ManifestEntry(config: "\(manifest.config.digest.encoded).json", repoTags: repoTags, layers: layerNames)
        files.append(("manifest.json", [UInt8](try CanonicalJSON.encode([entry]))))
        try ArchiveWriter.write(files, to: path)
    }

    /// Reads the image of a docker archive tagged `tag` (or its only image) into `sink` as an OCI image
    /// with uncompressed layers, and returns the manifest's descriptor.
    public static func read(_ path: String, tag: String? = nil, into sink: some BlobSink) throws -> Descriptor {
        let archive = try ArchiveFiles.read(path)
        guard let manifestBytes = archive["manifest.json"] else {
            throw ImageError.layout(path, "not a docker archive: no manifest.json")
        }
        let entries = try CanonicalJSON.decode([ManifestEntry].self, from: Data(manifestBytes), what: "\(path): manifest.json")
        let chosen: ManifestEntry
        if let tag {
            guard let match = entries.first(where: { $0.repoTags?.contains { sameImage($0, tag) } == true }) else {
                throw ImageError.tagNotInArchive(tag, path, entries.flatMap { $0.repoTags ?? [] }.sorted())
            }
            chosen = match
        } else {
            guard entries.count == 1, let only = entries.first else {
                throw ImageError.layout(path, "the archive holds \(entries.count) images; name one by tag")
            }
            chosen = only
        }
        guard let configBytes = archive[chosen.config] else {
            throw ImageError.layout(path, "manifest.json names `\(chosen.config)`, which the archive lacks")
        }
        let config = try CanonicalJSON.decode(ImageConfiguration.self, from: Data(configBytes), what: "\(path): image config")
        guard config.rootfs.diffIDs.count == chosen.layers.count else {
            throw ImageError.invalid("\(path): image config", "\(config.rootfs.diffIDs.count) diff_ids for \(chosen.layers.count) layers")
        }
        var layers: [Descriptor] = []
        for (name, diffID) in zip(chosen.layers, config.rootfs.diffIDs) {
            guard let stored = archive[name] else {
                throw ImageError.layout(path, "manifest.json names layer `\(name)`, which the archive lacks")
            }
            let plain = try uncompressed(stored)
            let digest = try sink.putBlob(Data(plain))
            guard digest == diffID else {
                throw ImageError.invalid("\(path): layer `\(name)`", "its content is \(digest), but the config says \(diffID)")
            }
            layers.append(Descriptor(mediaType: .ociLayer, digest: digest, size: Int64(plain.count)))
        }
        let configDigest = try sink.putBlob(Data(configBytes))
        let manifest = Manifest(
            config: Descriptor(mediaType: .ociConfig, digest: configDigest, size: Int64(configBytes.count)), layers: layers)
        let manifestData = try CanonicalJSON.encode(manifest)
        let manifestDigest = try sink.putBlob(manifestData)
        return Descriptor(mediaType: .ociManifest, digest: manifestDigest, size: Int64(manifestData.count))
    }

    /// Tags name the same image when equal as written or once normalised (`busybox:1` is
    /// `docker.io/library/busybox:1`), as `docker save` writes them normalised.
    static func sameImage(_ a: String, _ b: String) -> Bool {
        if a == b { return true }
        guard let left = try? ImageReference(parsing: a), let right = try? ImageReference(parsing: b) else { return false }
        return left.name == right.name && left.tag == right.tag && left.digest == right.digest
    }

    /// The layer as a plain tar: gzip is undone, anything else is taken as it is.
    static func uncompressed(_ bytes: [UInt8]) throws -> [UInt8] {
        guard bytes.count >= 2, bytes[0] == 0x1F, bytes[1] == 0x8B else { return bytes }
        let source = try GzipByteSource(MemoryByteSource(bytes))
        var result: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = try buffer.withUnsafeMutableBytes { try source.read(into: $0) }
            if count == 0 { break }
            result.append(contentsOf: buffer[0..<count])
        }
        return result
    }
}
