import struct Crypto.SHA256
import CompressNIO

/// Re-encodes a layer plan stored (plain tar) the way an image output wants it (``LayerEncoding``):
/// file times clamped to `SOURCE_DATE_EPOCH`, then gzip-compressed or left plain.
///
/// The tar is read entry by entry and written again by ``TarWriter``: order, names, link targets,
/// owners, modes, device numbers and extended attributes stay as they are; a modification time later
/// than the epoch becomes the epoch (sub-seconds dropped). Access and change times are not written
/// (``TarReader`` reads only `mtime`; ``TarWriter`` writes only it). The conversion streams: no layer
/// is ever held in memory.
///
/// Deterministic: ``TarWriter`` writes the same bytes for the same entries, and the gzip stream has
/// no name, a zero mtime and a fixed OS byte (see ``GzipByteSink``), so the same layer and encoding
/// give the same blob — on any machine with the same zlib (zlib-ng, say, compresses differently).
public enum LayerConversion {
    /// What a conversion wrote.
    public struct Result: Sendable, Hashable, Codable {
        /// The new blob: `application/vnd.oci.image.layer.v1.tar+gzip` or `…tar`, its digest and size.
        public var descriptor: Descriptor
        /// The SHA-256 of the tar written (before compression): the layer's diff ID.
        public var diffID: Digest

        public init(descriptor: Descriptor, diffID: Digest) {
            self.descriptor = descriptor
            self.diffID = diffID
        }
    }

    /// Whether `encoding` leaves a stored layer as it is (plain tar, no epoch): then there is nothing
    /// to convert and the stored blob is used.
    public static func isIdentity(_ encoding: LayerEncoding) -> Bool {
        encoding.compression == .uncompressed && encoding.sourceDateEpoch == nil
    }

    /// The media type of a layer written with `encoding`.
    public static func mediaType(_ encoding: LayerEncoding) -> MediaType {
        encoding.compression == .gzip ? .ociLayerGzip : .ociLayer
    }

    /// The zlib level `encoding` asks for; nil (zlib's default) is 6, so both name the same bytes.
    public static func level(_ encoding: LayerEncoding) -> Int { encoding.level ?? 6 }

    /// A short stable name of `encoding` (`gzip-6-epoch1700000000`, `tar`), for remembering conversions.
    public static func name(_ encoding: LayerEncoding) -> String {
        var name = encoding.compression == .gzip ? "gzip-\(level(encoding))" : "tar"
        if let epoch = encoding.sourceDateEpoch { name += "-epoch\(epoch)" }
        return name
    }

    /// Reads the tar in `source` (plain or gzip) and writes it re-encoded into `sink`, which is
    /// finished at the end. Returns the diff ID of what it wrote; the caller hashes the sink's bytes
    /// for the blob digest (for plain tar it is the diff ID).
    public static func convert(_ source: ByteSource, to sink: ByteSink, encoding: LayerEncoding) throws -> Digest {
        guard (0...9).contains(level(encoding)),
              let zlibLevel = ZlibConfiguration.CompressionLevel(rawValue: Int32(level(encoding)))
        else { throw LayerError.writerMisuse("gzip level \(level(encoding)) is not 0 to 9") }
        let compressed: ByteSink = encoding.compression == .gzip ? try GzipByteSink(sink, level: zlibLevel) : sink
        let hashing = HashingByteSink(compressed)
        let writer = TarWriter(hashing)
        let reader = TarReader(source)
        while var entry = try reader.next() {
            if let epoch = encoding.sourceDateEpoch, entry.modificationTime > epoch
                || (entry.modificationTime == epoch && entry.modificationNanoseconds != 0) {
                entry.modificationTime = epoch
                entry.modificationNanoseconds = 0
            }
            try writer.append(entry)
            if entry.kind == .regular {
                try reader.readContent { try writer.writeContent($0) }
            }
        }
        try writer.finish()
        return hashing.digest
    }

    /// Converts the stored layer at `path` into `store`. Returns the new blob's descriptor and diff ID.
    public static func convert(fileAt path: String, encoding: LayerEncoding, into store: ContentStore) throws -> Result {
        let writer = try store.writer()
        let diffID = try convert(try LayerSource.open(path: path), to: BlobWriterByteSink(writer), encoding: encoding)
        let size = writer.bytesWritten
        let digest = try writer.commit()
        return Result(descriptor: Descriptor(mediaType: mediaType(encoding), digest: digest, size: size), diffID: diffID)
    }
}

/// Passes bytes on while computing their SHA-256.
public final class HashingByteSink: ByteSink {
    private let inner: ByteSink
    private var hasher = SHA256()
    private var finalDigest: Digest?
    /// Bytes passed on so far.
    public private(set) var count: Int64 = 0

    /// Hashes what is written before handing it to `inner`.
    public init(_ inner: ByteSink) { self.inner = inner }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        hasher.update(bufferPointer: bytes)
        count += Int64(bytes.count)
        try inner.write(bytes)
    }

    public func finish() throws {
        finalDigest = Digest.sha256(hasher.finalize())
        try inner.finish()
    }

    /// The SHA-256 of everything written (valid after `finish()`).
    public var digest: Digest { finalDigest ?? Digest.sha256(hasher.finalize()) }
}

/// Streams into a content store blob writer (committed by the caller).
public final class BlobWriterByteSink: ByteSink {
    private let writer: BlobWriter

    /// Writes into `writer`.
    public init(_ writer: BlobWriter) { self.writer = writer }

    public func write(_ bytes: UnsafeRawBufferPointer) throws { try writer.write(bytes) }
    public func finish() throws {}
}
