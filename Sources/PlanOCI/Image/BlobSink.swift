import Foundation

/// Somewhere blobs can be written by digest: the ``ContentStore``, an ``OCILayout`` directory,
/// and (later) the tar forms of a layout or a docker-archive, which stream blobs into a tar.
public protocol BlobSink {
    /// Stores bytes and returns their SHA-256 digest; storing the same bytes twice is harmless.
    @discardableResult
    func putBlob(_ data: Data) throws -> Digest
    /// Whether a blob is already there, so that callers can skip copying it.
    func hasBlob(_ digest: Digest) -> Bool
    /// Stores everything `source` yields and returns its digest and size. The stores of this
    /// module stream it to disk; the default collects it in memory first.
    func putBlob(streaming source: ByteSource) throws -> (digest: Digest, size: Int64)
}

extension BlobSink {
    public func putBlob(streaming source: ByteSource) throws -> (digest: Digest, size: Int64) {
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = try buffer.withUnsafeMutableBytes { try source.read(into: $0) }
            if count == 0 { break }
            data.append(contentsOf: buffer[0..<count])
        }
        return (try putBlob(data), Int64(data.count))
    }
}

extension BlobDirectory {
    /// Streams `source` into a new blob.
    func write(streaming source: ByteSource) throws -> (digest: Digest, size: Int64) {
        let writer = try writer(expecting: nil, size: nil)
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        do {
            while true {
                let count = try buffer.withUnsafeMutableBytes { raw -> Int in
                    let n = try source.read(into: raw)
                    if n > 0 { try writer.write(UnsafeRawBufferPointer(rebasing: raw[0..<n])) }
                    return n
                }
                if count == 0 { break }
            }
            let size = writer.bytesWritten
            return (try writer.commit(), size)
        } catch {
            writer.abort()
            throw error
        }
    }
}

/// Somewhere blobs can be read by digest.
public protocol BlobSource {
    /// The bytes of a blob.
    func blob(_ digest: Digest) throws -> Data
}

extension ContentStore: BlobSink, BlobSource {
    /// Stores bytes in the store.
    public func putBlob(_ data: Data) throws -> Digest { try write(data) }
    /// Whether the store has the blob.
    public func hasBlob(_ digest: Digest) -> Bool { contains(digest) }
    /// Reads a blob from the store.
    public func blob(_ digest: Digest) throws -> Data { try data(for: digest) }
    /// Streams a blob into the store.
    public func putBlob(streaming source: ByteSource) throws -> (digest: Digest, size: Int64) {
        try blobs.write(streaming: source)
    }
}
