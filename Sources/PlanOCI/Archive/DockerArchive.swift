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
    /// layers are stored uncompressed (`keepCompressed`: as they are, `DIGEST.tar.gz`, which `docker
    /// load` also reads), and each is checked against the config's `diff_ids`.
    public static func write(manifest descriptor: Descriptor, from source: some BlobSource, repoTags: [String],
                             to path: String, keepCompressed: Bool = false) throws {
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
            let compressed = keepCompressed && stored.starts(with: [0x1F, 0x8B])
            let name = compressed ? "\(layer.digest.encoded).tar.gz" : "\(diffID.encoded).tar"
            if !layerNames.contains(name) { files.append((name, compressed ? stored : plain)) }
            layerNames.append(name)
        }
        let entry = ManifestEntry(config: "\(manifest.config.digest.encoded).json", repoTags: repoTags, layers: layerNames)
        files.append(("manifest.json", [UInt8](try CanonicalJSON.encode([entry]))))
        try ArchiveWriter.write(files, to: path)
    }

    /// The largest `manifest.json` or image config read from an archive (as for registries).
    public static let documentLimit: Int64 = 4 << 20

    /// Reads the image of a docker archive tagged `tag` (or its only image) into `sink` as an OCI image
    /// with uncompressed layers, and returns the manifest's descriptor. The archive is read twice:
    /// once for the names and `manifest.json`, once for the config and the layers, which are streamed
    /// (un-gzipped on the way) into `sink`, never held in memory.
    public static func read(_ path: String, tag: String? = nil, into sink: some BlobSink) throws -> Descriptor {
        let archive = try ArchiveFiles.read(path, keep: { $0 == "manifest.json" }, limit: documentLimit)
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
        guard let configMember = archive.resolve(chosen.config) else {
            throw ImageError.layout(path, "manifest.json names `\(chosen.config)`, which the archive lacks")
        }
        var layerMembers: [String] = []
        for name in chosen.layers {
            guard let member = archive.resolve(name) else {
                throw ImageError.layout(path, "manifest.json names layer `\(name)`, which the archive lacks")
            }
            layerMembers.append(member)
        }

        // Second pass: the config into memory (bounded), each wanted layer streamed into the sink.
        let wanted = Set(layerMembers)
        var configBytes: [UInt8]?
        var stored: [String: (digest: Digest, size: Int64)] = [:]
        let reader = TarReader(try LayerSource.open(path: path))
        while let entry = try reader.next() {
            guard entry.kind == .regular, let name = try? ArchiveFiles.normalised(entry.path, archive: path) else { continue }
            if name == configMember {
                guard entry.size <= documentLimit else {
                    throw ImageError.invalid("\(path): image config", "`\(name)` is larger than \(documentLimit) bytes")
                }
                configBytes = try reader.readAllContent()
            } else if wanted.contains(name), stored[name] == nil {
                stored[name] = try sink.putBlob(streaming: try uncompressedSource(TarContentSource(reader)))
            }
        }
        guard let configBytes else {
            throw ImageError.layout(path, "manifest.json names `\(chosen.config)`, which the archive lacks")
        }
        let config = try CanonicalJSON.decode(ImageConfiguration.self, from: Data(configBytes), what: "\(path): image config")
        guard config.rootfs.diffIDs.count == chosen.layers.count else {
            throw ImageError.invalid("\(path): image config", "\(config.rootfs.diffIDs.count) diff_ids for \(chosen.layers.count) layers")
        }
        var layers: [Descriptor] = []
        for ((name, member), diffID) in zip(zip(chosen.layers, layerMembers), config.rootfs.diffIDs) {
            guard let blob = stored[member] else {
                throw ImageError.layout(path, "manifest.json names layer `\(name)`, which the archive lacks")
            }
            guard blob.digest == diffID else {
                throw ImageError.invalid("\(path): layer `\(name)`", "its content is \(blob.digest), but the config says \(diffID)")
            }
            layers.append(Descriptor(mediaType: .ociLayer, digest: blob.digest, size: blob.size))
        }
        let configDigest = try sink.putBlob(Data(configBytes))
        let manifest = Manifest(
            config: Descriptor(mediaType: .ociConfig, digest: configDigest, size: Int64(configBytes.count)), layers: layers)
        let manifestData = try CanonicalJSON.encode(manifest)
        let manifestDigest = try sink.putBlob(manifestData)
        return Descriptor(mediaType: .ociManifest, digest: manifestDigest, size: Int64(manifestData.count))
    }

    /// A layer member as a plain tar stream: gzip is undone as it is read, anything else is taken
    /// as it is.
    static func uncompressedSource(_ source: ByteSource) throws -> ByteSource {
        var prefix = [UInt8](repeating: 0, count: 2)
        var have = 0
        while have < 2 {
            let n = try prefix.withUnsafeMutableBytes { try source.read(into: UnsafeMutableRawBufferPointer(rebasing: $0[have...])) }
            if n == 0 { break }
            have += n
        }
        let whole = PrefixedByteSource(Array(prefix[0..<have]), source)
        return have == 2 && prefix[0] == 0x1F && prefix[1] == 0x8B ? try GzipByteSource(whole) : whole
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

/// Bytes already read from a source, then the rest of it.
final class PrefixedByteSource: ByteSource {
    private var prefix: [UInt8]
    private let rest: ByteSource

    init(_ prefix: [UInt8], _ rest: ByteSource) {
        self.prefix = prefix
        self.rest = rest
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard !prefix.isEmpty else { return try rest.read(into: buffer) }
        let count = min(prefix.count, buffer.count)
        guard count > 0, let base = buffer.baseAddress else { return 0 }
        prefix.withUnsafeBytes { raw in
            UnsafeMutableRawBufferPointer(start: base, count: count).copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[0..<count]))
        }
        prefix.removeFirst(count)
        return count
    }
}
