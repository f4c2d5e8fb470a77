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
    /// The source blob's file when it was converted (or last checked).
    var sourceFile: FileIdentity?

    /// Inode, size and change time of a file: any write to it (a flipped byte, a truncation) changes one.
    struct FileIdentity: Codable, Sendable, Equatable {
        var inode: UInt64
        var size: Int64
        var changeSeconds: Int64
        var changeNanoseconds: Int64

        init?(path: String) {
            var info = stat()
            guard stat(path, &info) == 0 else { return nil }
            inode = UInt64(info.st_ino)
            size = Int64(info.st_size)
            changeSeconds = Int64(info.st_ctim.tv_sec)
            changeNanoseconds = Int64(info.st_ctim.tv_nsec)
        }
    }
}

extension BuildCache {
    /// The stored layer `layer` encoded as `encoding` (``LayerConversion``): the stored blob itself
    /// when the encoding changes nothing; else the converted blob, converted once and remembered in
    /// `build/converted/`, so a re-export or re-push does no work. A remembered conversion whose blob
    /// is missing or has the wrong size is converted again (the export that copies the blob checks
    /// its digest, and a changed one is a ``CacheCorruption``, dropped and rebuilt by the run).
    ///
    /// The source is checked against its digest while it is converted, and again (hashed, not
    /// converted) when its file changed since (inode, size or change time): a changed one is a
    /// ``CacheCorruption``, so a damaged layer is found and rebuilt as when it was copied as is.
    func encodedLayer(_ layer: Descriptor, encoding: LayerEncoding) throws -> LayerConversion.Result {
        if LayerConversion.isIdentity(encoding) { return LayerConversion.Result(descriptor: layer, diffID: layer.digest) }
        let name = LayerConversion.name(encoding)
        let recordPath = layout.convertedLayers + "/" + layer.digest.encoded + "-" + name + ".json"
        let sourcePath = path(of: layer.digest)
        if let data = FileManager.default.contents(atPath: recordPath),
           var record = try? JSONDecoder().decode(ConvertedLayerRecord.self, from: data),
           record.source == layer.digest, record.encoding == name,
           store.size(of: record.layer.digest) == record.layer.size {
            let identity = ConvertedLayerRecord.FileIdentity(path: sourcePath)
            if identity == nil || identity != record.sourceFile {
                guard let opened = try? FileByteSource(path: sourcePath),
                      (try? HashingByteSource(opened).finish()) == layer.digest else {
                    throw CacheCorruption(digest: layer.digest, path: sourcePath)
                }
                record.sourceFile = identity
                try? remember(record, at: recordPath)
            }
            return LayerConversion.Result(descriptor: record.layer, diffID: record.diffID)
        }
        let identity = ConvertedLayerRecord.FileIdentity(path: sourcePath)
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
        try remember(ConvertedLayerRecord(source: layer.digest, encoding: name, layer: result.descriptor, diffID: diffID,
                                          sourceFile: identity), at: recordPath)
        return result
    }

    private func remember(_ record: ConvertedLayerRecord, at path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try FileManager.default.createDirectory(atPath: layout.convertedLayers, withIntermediateDirectories: true)
        try Self.writeAtomically(try encoder.encode(record), to: path)
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
               name == record.source.encoded + "-" + record.encoding + ".json", kept.contains(record.source.encoded) {
                blobs.insert(record.layer.digest.encoded)
            } else {
                _ = remove(path)
            }
        }
        return blobs
    }
}
