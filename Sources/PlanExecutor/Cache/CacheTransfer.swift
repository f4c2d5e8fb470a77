import Foundation
import PlanOCI

/// `--cache-to dir=PATH` and `--cache-from dir=PATH`: cache entries as an OCI image layout, so a CI
/// job can hand its cache to the next one (as a folder, an artifact upload, or pushed with `oras`).
///
/// Each entry is an OCI manifest (artifact type `application/vnd.plan.cache.v1`) whose config is
/// the entry's record and whose one layer, if any, is the step's layer or the artifact's tree.
/// `index.json` lists the manifests, each annotated with its key (`dev.plan.cache.key`).
struct CacheTransfer {
    let cache: BuildCache

    static let recordType = MediaType("application/vnd.plan.cache.record.v1+json")
    static let artifactType = "application/vnd.plan.cache.v1"
    static let keyAnnotation = "dev.plan.cache.key"

    struct Report {
        var imported = 0
        var warnings: [String] = []
    }

    /// Writes the entries of `keys` to a new layout at `destination`, replacing what was there at once.
    func exportLayout(keys: [String], to destination: String) throws {
        try AtomicOutput.replace(destination) { temporary in
            let layout = try OCILayout.create(at: URL(fileURLWithPath: temporary))
            var manifests: [Descriptor] = []
            for key in keys {
                guard let (record, blob) = cache.entry(for: key, warn: { _ in }) else { continue }
                try cache.export(blob, to: layout)
                var layers: [Descriptor] = []
                if let layer = record.layer {
                    try cache.export(layer, to: layout)
                    layers.append(layer)
                }
                let manifest = Manifest(config: blob, layers: layers, annotations: [Self.keyAnnotation: key],
                                        artifactType: Self.artifactType)
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys]
                let data = try encoder.encode(manifest)
                let digest = try layout.putBlob(data)
                manifests.append(Descriptor(mediaType: .ociManifest, digest: digest, size: Int64(data.count),
                                            annotations: [Self.keyAnnotation: key], artifactType: Self.artifactType))
            }
            try layout.writeIndex(ImageIndex(manifests: manifests))
        }
    }

    /// Copies the entries of the layout at `source` into the cache, checking every blob's digest.
    /// Entries the cache has are skipped; a broken entry is reported and skipped.
    func importLayout(from source: String) throws -> Report {
        var report = Report()
        guard FileManager.default.fileExists(atPath: source + "/index.json") else {
            report.warnings.append("--cache-from \(source): no cache there yet (no index.json); starting without it")
            return report
        }
        let layout = try OCILayout.open(at: URL(fileURLWithPath: source))
        for descriptor in try layout.index().manifests {
            guard let key = descriptor.annotations?[Self.keyAnnotation], key.count == 64,
                  key.allSatisfy({ $0.isHexDigit && !$0.isUppercase }) else { continue }
            // Nothing here marks entries as used: `--cache-to` would then export every imported entry,
            // whether this build needed it or not, one CI generation after another.
            if cache.hasReference(key) { continue }
            do {
                let manifestData = try verified(layout, descriptor.digest)
                let manifest = try JSONDecoder().decode(Manifest.self, from: manifestData)
                let record = try JSONDecoder().decode(CacheRecord.self, from: try verified(layout, manifest.config.digest))
                guard record.key == key else {
                    report.warnings.append("--cache-from \(source): entry \(key) holds the record of another key; skipped")
                    continue
                }
                if let layer = record.layer {
                    // Streamed; the store refuses bytes that do not match the digest.
                    let path = layout.path(for: layer.digest).path
                    let hadLayer = cache.store.contains(layer.digest)
                    do {
                        try cache.store.importBlob(fromFile: path, digest: layer.digest, size: layer.size)
                    } catch {
                        throw CacheCorruption(digest: layer.digest, path: path)
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
                report.warnings.append("--cache-from \(source): entry \(key) skipped: \(error)")
            }
        }
        return report
    }

    private func verified(_ layout: OCILayout, _ digest: Digest) throws -> Data {
        let data = try layout.blob(digest)
        guard Digest.sha256(of: data) == digest else { throw CacheCorruption(digest: digest, path: layout.path(for: digest).path) }
        return data
    }
}
