import Foundation
import PlanOCI

/// A remembered layer conversion: `build/converted/SOURCEHEX-ENCODING.json`.
struct ConvertedLayerRecord: Codable, Sendable, Equatable {
    /// The stored (plain tar) layer it was made from.
    var source: Digest
    /// ``LayerConversion/name(_:)`` of the encoding.
    var encoding: String
    /// The converted blob, in the build cache's `blobs/sha256/`.
    var layer: Descriptor
    /// The SHA-256 of the tar inside it.
    var diffID: Digest
}

extension BuildCache {
    /// The stored layer `layer` encoded as `encoding` (``LayerConversion``): the stored blob itself
    /// when the encoding changes nothing; else the converted blob, converted once and remembered in
    /// `build/converted/`, so a re-export or re-push does no work. A remembered conversion whose blob
    /// is missing or has the wrong size is converted again (the export that copies the blob checks
    /// its digest, and a changed one is a ``CacheCorruption``, dropped and rebuilt by the run).
    ///
    /// The source is checked against its digest while it is converted; a changed one is a
    /// ``CacheCorruption`` and nothing is remembered.
    func encodedLayer(_ layer: Descriptor, encoding: LayerEncoding) throws -> LayerConversion.Result {
        if LayerConversion.isIdentity(encoding) { return LayerConversion.Result(descriptor: layer, diffID: layer.digest) }
        let name = LayerConversion.name(encoding)
        let recordPath = layout.convertedLayers + "/" + layer.digest.encoded + "-" + name + ".json"
        if let data = FileManager.default.contents(atPath: recordPath),
           let record = try? JSONDecoder().decode(ConvertedLayerRecord.self, from: data),
           record.source == layer.digest, record.encoding == name,
           store.size(of: record.layer.digest) == record.layer.size {
            return LayerConversion.Result(descriptor: record.layer, diffID: record.diffID)
        }
        let sourcePath = path(of: layer.digest)
        guard let opened = try? FileByteSource(path: sourcePath) else { throw CacheCorruption(digest: layer.digest, path: sourcePath) }
        let source = HashingByteSource(opened)
        let writer = try store.writer()
        let diffID: Digest
        do {
            diffID = try LayerConversion.convert(source, to: BlobWriterByteSink(writer), encoding: encoding)
        } catch {
            writer.abort()
            if (try? source.finish()) != layer.digest { throw CacheCorruption(digest: layer.digest, path: sourcePath) }
            throw error
        }
        guard try source.finish() == layer.digest else {
            writer.abort()
            throw CacheCorruption(digest: layer.digest, path: sourcePath)
        }
        let size = writer.bytesWritten
        let digest = try writer.commit()
        let result = LayerConversion.Result(descriptor: Descriptor(mediaType: LayerConversion.mediaType(encoding), digest: digest, size: size),
                                            diffID: diffID)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try FileManager.default.createDirectory(atPath: layout.convertedLayers, withIntermediateDirectories: true)
        try Self.writeAtomically(try encoder.encode(ConvertedLayerRecord(source: layer.digest, encoding: name, layer: result.descriptor,
                                                                          diffID: diffID)),
                                 to: recordPath)
        return result
    }

    /// For `prune`: the converted blobs of the remembered conversions whose source is in `kept`
    /// (blob hex digests); removes the records of the others (and unreadable ones, and temporary
    /// files), so their blobs are swept with their source.
    func keptConversions(sources kept: Set<String>, remove: (String) -> Bool) -> Set<String> {
        var blobs = Set<String>()
        for name in Self.names(in: layout.convertedLayers) {
            let path = layout.convertedLayers + "/" + name
            if let data = FileManager.default.contents(atPath: path),
               let record = try? JSONDecoder().decode(ConvertedLayerRecord.self, from: data),
               name.hasPrefix(record.source.encoded + "-"), kept.contains(record.source.encoded) {
                blobs.insert(record.layer.digest.encoded)
            } else {
                _ = remove(path)
            }
        }
        return blobs
    }
}
