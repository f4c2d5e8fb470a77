import Foundation
import PlanCompiler
import PlanOCI

/// `--cache-to` and `--cache-from`: cache entries as OCI content, in a folder (an OCI image layout,
/// `dir=PATH`, `type=local`) or in a registry (an OCI index under a reference, `type=registry`), so a
/// CI job can hand its cache to the next one.
///
/// Each entry is an OCI manifest (artifact type `application/vnd.plan.cache.v1`) whose config is
/// the entry's record and whose one layer, if any, is the step's layer or the artifact's tree.
/// The index lists the manifests, each annotated with its key (`dev.plan.cache.key`). With
/// `mounts=true`, each non-empty `cache:` mount of the plan is one more manifest: a mount record as
/// config, the folder's contents as a tar layer, annotated `dev.plan.cache.mount: KEY`.
///
/// Import checks every document and blob against its digest and refuses, per entry, a record stored
/// under another key, a manifest that lists other layers than its record, and a layer that unpacking
/// would refuse; the rest is imported.
struct CacheTransfer {
    let cache: BuildCache

    static let recordType = MediaType("application/vnd.plan.cache.record.v1+json")
    static let mountRecordType = MediaType("application/vnd.plan.cache.mount.v1+json")
    static let artifactType = "application/vnd.plan.cache.v1"
    static let keyAnnotation = "dev.plan.cache.key"
    static let mountAnnotation = "dev.plan.cache.mount"
    /// Records and mount records are a few hundred bytes: anything announcing more is refused unread.
    static let maxRecordSize: Int64 = 1 << 20

    /// A failed export to a registry (without `ignore-error=true`, it fails the run, as in BuildKit).
    struct ExportFailure: Error, CustomStringConvertible {
        var description: String
    }

    struct Report {
        var imported = 0
        var mountsRestored = 0
        var warnings: [String] = []
    }

    /// The config of a mount entry.
    struct MountRecord: Codable, Equatable {
        /// The folder's name under `mounts/` (``CacheLayout/mountKey(_:)``).
        var mount: String
    }

    /// One entry to export: its manifest (as the index lists it) and the blobs the manifest names.
    struct ExportEntry {
        var manifest: PushDocument
        var blobs: [PushBlob]
    }

    // MARK: Export

    /// Exports the entries of `keys` (and, with `mounts=true`, the non-empty mounts of `mountKeys`) to
    /// `transport`: a new layout replacing the folder at once, or an index pushed to the registry (blobs
    /// the registry has are not sent again).
    /// Returns what was exported, in a line.
    @discardableResult
    func export(keys: [String], mountKeys: [String], to transport: CacheTransport, client: RegistryClient,
                warn: (String) -> Void) async throws -> String {
        let scratch = try RunDirectory.create(in: cache.layout.runs)
        defer { RunDirectory.remove(scratch) }
        var entries = try stepEntries(keys: keys)
        if transport.mounts {
            entries += try mountEntries(mountKeys, maxSize: transport.mountsMaxSize, scratch: scratch, warn: warn)
        }
        let what = "--cache-to \(transport): \(entries.count) \(entries.count == 1 ? "entry" : "entries") exported"
        switch transport.location {
        case .directory(let path):
            try writeLayout(entries, to: path)
            return what
        case .registry(let reference):
            let index = try Self.encode(ImageIndex(manifests: entries.map(\.manifest.descriptor)))
            let root = PushDocument(descriptor: Descriptor(mediaType: .ociIndex, digest: Digest.sha256(of: index), size: Int64(index.count)),
                                    data: index)
            let image = PushableImage(root: root, manifests: entries.map(\.manifest), blobs: entries.flatMap(\.blobs))
            let pushed = try await client.push(image, to: reference)
            return what + " (\(pushed.uploaded) blobs sent, \(pushed.bytesSent) bytes; \(pushed.present) already there, "
                + "\(pushed.mounted) mounted)"
        }
    }

    /// The manifests of the step and artifact entries of `keys` that the cache holds, their blobs read
    /// from the cache's files.
    func stepEntries(keys: [String]) throws -> [ExportEntry] {
        var entries: [ExportEntry] = []
        for key in keys {
            guard let (record, blob) = cache.entry(for: key, warn: { _ in }) else { continue }
            var blobs = [PushBlob(descriptor: blob, content: .file(cache.path(of: blob.digest)))]
            var layers: [Descriptor] = []
            if let layer = record.layer {
                blobs.append(PushBlob(descriptor: layer, content: .file(cache.path(of: layer.digest))))
                layers.append(layer)
            }
            entries.append(try Self.entry(config: blob, layers: layers, annotations: [Self.keyAnnotation: key], blobs: blobs))
        }
        return entries
    }

    static func entry(config: Descriptor, layers: [Descriptor], annotations: [String: String], blobs: [PushBlob]) throws -> ExportEntry {
        let manifest = Manifest(config: config, layers: layers, annotations: annotations, artifactType: artifactType)
        let data = try encode(manifest)
        let descriptor = Descriptor(mediaType: .ociManifest, digest: Digest.sha256(of: data), size: Int64(data.count),
                                    annotations: annotations, artifactType: artifactType)
        return ExportEntry(manifest: PushDocument(descriptor: descriptor, data: data), blobs: blobs)
    }

    /// Writes the entries to a new layout at `destination`, replacing what was there at once. A cache
    /// file whose bytes no longer match its digest is a ``CacheCorruption``.
    func writeLayout(_ entries: [ExportEntry], to destination: String) throws {
        try AtomicOutput.replace(destination) { temporary in
            let layout = try OCILayout.create(at: URL(fileURLWithPath: temporary))
            for entry in entries {
                for blob in entry.blobs {
                    switch blob.content {
                    case .file(let path):
                        do {
                            try layout.importBlob(fromFile: path, digest: blob.descriptor.digest, size: blob.descriptor.size)
                        } catch {
                            throw CacheCorruption(digest: blob.descriptor.digest, path: path)
                        }
                    case .data(let data):
                        _ = try layout.putBlob(data)
                    case .registry:
                        preconditionFailure("cache entries are exported from local files")
                    }
                }
                _ = try layout.putBlob(entry.manifest.data)
            }
            try layout.writeIndex(ImageIndex(manifests: entries.map(\.manifest.descriptor)))
        }
    }

    static func encode<T: Encodable>(_ value: T) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return try encoder.encode(value)
    }

    // MARK: Import

    /// Copies the entries of `source` into the cache; entries the cache has are skipped. Every
    /// document and blob is checked against its digest; a broken or foreign entry is reported and
    /// skipped, the others imported. The mounts of `mountKeys` found there are restored where the local
    /// folder is absent or empty (``restoreMount(_:key:from:scratch:)``). A source that cannot be read
    /// at all is a warning: the build goes on without it.
    func importEntries(from source: some CacheEntrySource, label: String, mountKeys: Set<String>,
                       mountsMaxSize: Int64 = CacheTransport.defaultMountsMaxSize) async -> Report {
        var report = Report()
        let index: ImageIndex
        do {
            guard let found = try await source.index() else {
                report.warnings.append("--cache-from \(label): no cache there yet; starting without it")
                return report
            }
            index = found
        } catch {
            report.warnings.append("--cache-from \(label): cannot read the cache (\(error)); starting without it")
            return report
        }
        let scratch: String
        let store: ContentStore
        do {
            scratch = try RunDirectory.create(in: cache.layout.runs)
            store = try ContentStore(root: URL(fileURLWithPath: scratch + "/blobs"))
        } catch {
            report.warnings.append("--cache-from \(label): \(error); starting without it")
            return report
        }
        defer { RunDirectory.remove(scratch) }
        for descriptor in index.manifests {
            if let mount = descriptor.annotations?[Self.mountAnnotation] {
                guard mountKeys.contains(mount), Self.isEmptyOrAbsent(cache.layout.mounts + "/" + mount) else { continue }
                do {
                    try await restoreMount(descriptor, key: mount, from: source, scratch: store, maxSize: mountsMaxSize)
                    report.mountsRestored += 1
                } catch {
                    report.warnings.append("--cache-from \(label): cache mount \(mount) not restored: \(error)")
                }
                continue
            }
            guard let key = descriptor.annotations?[Self.keyAnnotation], key.count == 64,
                  key.allSatisfy({ $0.isHexDigit && !$0.isUppercase }) else { continue }
            // Nothing here marks entries as used: `--cache-to` would then export every imported entry,
            // whether this build needed it or not, one CI generation after another.
            if cache.hasReference(key) { continue }
            do {
                let manifest = try await manifest(descriptor, from: source)
                let record: CacheRecord = try await config(of: manifest, type: Self.recordType, from: source, scratch: store)
                guard record.key == key else {
                    report.warnings.append("--cache-from \(label): entry \(key) holds the record of another key; skipped")
                    continue
                }
                guard Self.sameBlobs(manifest.layers, record.layer.map { [$0] } ?? []) else {
                    report.warnings.append("--cache-from \(label): entry \(key) skipped: its manifest lists other layers than its record")
                    continue
                }
                if let layer = record.layer {
                    let hadLayer = cache.store.contains(layer.digest)
                    try await source.fetch(layer, into: cache.store)
                    // A blob the cache had already is not fetched again: it must still be the one described.
                    guard cache.store.size(of: layer.digest) == layer.size else {
                        throw RegistryError.invalidDocument("cache entry \(key)", "layer \(layer.digest) is not \(layer.size) bytes")
                    }
                    // A layer that unpacking would refuse (a name climbing out with `..`, …) is never
                    // stored: kept, it would fail every later build that hits its key, until a prune.
                    do {
                        try LayerApplier.validate(TarReader(FileByteSource(path: cache.path(of: layer.digest))))
                    } catch {
                        if !hadLayer { cache.store.remove(layer.digest) }
                        throw error
                    }
                }
                try cache.put(record, imported: true)
                report.imported += 1
            } catch {
                report.warnings.append("--cache-from \(label): entry \(key) skipped: \(error)")
            }
        }
        return report
    }

    /// An entry's manifest, digest-checked and decoded.
    private func manifest(_ descriptor: Descriptor, from source: some CacheEntrySource) async throws -> Manifest {
        let data = try await source.document(descriptor)
        do {
            return try JSONDecoder().decode(Manifest.self, from: data)
        } catch {
            throw RegistryError.invalidDocument("manifest \(descriptor.digest)", "\(error)")
        }
    }

    /// A manifest's config of the media type wanted, fetched into `scratch` (digest-checked) and decoded.
    private func config<T: Decodable>(of manifest: Manifest, type: MediaType, from source: some CacheEntrySource,
                                      scratch: ContentStore) async throws -> T {
        guard manifest.config.mediaType == type else {
            throw RegistryError.invalidDocument("cache entry config", "media type \(manifest.config.mediaType.rawValue), not \(type.rawValue)")
        }
        guard manifest.config.size >= 0, manifest.config.size <= Self.maxRecordSize else {
            throw RegistryError.invalidDocument("cache entry config \(manifest.config.digest)",
                                                "\(manifest.config.size) bytes announced (at most \(Self.maxRecordSize))")
        }
        try await source.fetch(manifest.config, into: scratch)
        let data = try scratch.data(for: manifest.config.digest, verify: true)
        do {
            return try JSONDecoder().decode(T.self, from: data)
        } catch {
            throw RegistryError.invalidDocument("cache entry config \(manifest.config.digest)", "\(error)")
        }
    }

    static func sameBlobs(_ a: [Descriptor], _ b: [Descriptor]) -> Bool {
        a.map(\.digest) == b.map(\.digest) && a.map(\.size) == b.map(\.size)
    }

    // MARK: Cache mounts

    /// The folder names under `mounts/` of the `cache:` mounts of the plan's `run` steps, sorted.
    static func mountKeys(of plan: BoundPlan) -> [String] {
        var keys = Set<String>()
        for stage in plan.stages {
            for step in stage.steps {
                guard case .run(let run) = step.action else { continue }
                for mount in run.cacheMounts { keys.insert(CacheLayout.mountKey(mount.id ?? mount.target)) }
            }
        }
        return keys.sorted()
    }

    /// One entry per non-empty mount folder of `keys`: its contents as a tar layer written into
    /// `scratch`. A folder over `maxSize` bytes is skipped with a warning.
    func mountEntries(_ keys: [String], maxSize: Int64, scratch: String, warn: (String) -> Void) throws -> [ExportEntry] {
        var entries: [ExportEntry] = []
        var store: ContentStore?
        for key in keys {
            let folder = cache.layout.mounts + "/" + key
            guard !Self.isEmptyOrAbsent(folder) else { continue }
            let size = DiskUsage.bytes(folder)
            guard size <= maxSize else {
                warn("--cache-to: cache mount \(key) holds \(size) bytes, more than mounts-max-size (\(maxSize)); not exported")
                continue
            }
            let blobs = try store ?? ContentStore(root: URL(fileURLWithPath: scratch + "/mounts"))
            store = blobs
            let writer = try blobs.writer()
            let tar = TarWriter(BlobWriterSink(writer))
            do {
                try LayerDiffer().writeDirectory(folder, to: tar)
                try tar.finish()
            } catch {
                writer.abort()
                throw error
            }
            let layer = Descriptor(mediaType: .ociLayer, digest: try writer.commit(), size: writer.bytesWritten)
            let recordData = try Self.encode(MountRecord(mount: key))
            let config = Descriptor(mediaType: Self.mountRecordType, digest: Digest.sha256(of: recordData), size: Int64(recordData.count))
            entries.append(try Self.entry(
                config: config, layers: [layer], annotations: [Self.mountAnnotation: key],
                blobs: [PushBlob(descriptor: config, content: .data(recordData)),
                        PushBlob(descriptor: layer, content: .file(blobs.path(for: layer.digest).path))]))
        }
        return entries
    }

    /// Unpacks a mount entry into `mounts/KEY` (absent or empty): into a fresh folder first, moved into
    /// place whole. Never merges into a mount that has content. A layer larger than `maxSize` is refused.
    func restoreMount(_ descriptor: Descriptor, key: String, from source: some CacheEntrySource, scratch: ContentStore,
                      maxSize: Int64) async throws {
        guard !key.isEmpty, key.utf8.count <= 255, key == CacheLayout.mountKey(key) else {
            throw RegistryError.invalidDocument("cache mount entry", "`\(key)` is not a mount folder name")
        }
        let manifest = try await manifest(descriptor, from: source)
        let record: MountRecord = try await config(of: manifest, type: Self.mountRecordType, from: source, scratch: scratch)
        guard record.mount == key, manifest.layers.count == 1, let layer = manifest.layers.first else {
            throw RegistryError.invalidDocument("cache mount entry \(descriptor.digest)", "its record names another mount or it has no one layer")
        }
        // Bounded like the export: a foreign entry announcing more is refused before a byte is fetched
        // (and the fetch stops at the announced size).
        guard layer.size <= maxSize else {
            throw RegistryError.tooLarge("cache mount entry \(key) (\(layer.size) bytes announced)", Int(clamping: maxSize))
        }
        try await source.fetch(layer, into: scratch)
        let path = scratch.path(for: layer.digest).path
        defer { scratch.remove(layer.digest) }
        try LayerApplier.validate(TarReader(FileByteSource(path: path)))
        let tree = scratch.root.path + "/mount-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: tree, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: tree) }
        _ = try LayerApplier().apply(TarReader(FileByteSource(path: path)), to: tree)
        try FileManager.default.createDirectory(atPath: cache.layout.mounts, withIntermediateDirectories: true)
        let folder = cache.layout.mounts + "/" + key
        // An empty folder is replaced; one that has gained content meanwhile is kept as it is.
        rmdir(folder)
        if rename(tree, folder) != 0 {
            throw CacheError.io("rename", folder, errno)
        }
    }

    /// Whether `path` is not there, or is a folder with nothing in it.
    static func isEmptyOrAbsent(_ path: String) -> Bool {
        var info = stat()
        guard lstat(path, &info) == 0 else { return errno == ENOENT }
        return (info.st_mode & S_IFMT) == S_IFDIR && DiskUsage.children(path).isEmpty
    }
}
