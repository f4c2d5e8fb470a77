import Foundation

/// Somewhere blobs can be written by digest: the ``ContentStore``, an ``OCILayout`` directory,
/// and (later) the tar forms of a layout or a docker-archive, which stream blobs into a tar.
public protocol BlobSink {
    /// Stores bytes and returns their SHA-256 digest; storing the same bytes twice is harmless.
    @discardableResult
    func putBlob(_ data: Data) throws -> Digest
    /// Whether a blob is already there, so that callers can skip copying it.
    func hasBlob(_ digest: Digest) -> Bool
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
}
