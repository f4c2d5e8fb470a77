import Foundation

extension BlobSink {
    /// Writes `index` as a blob (canonical JSON: the same index gives the same digest) and returns its descriptor
    /// (`application/vnd.oci.image.index.v1+json` unless the index says otherwise).
    public func putIndex(_ index: ImageIndex) throws -> Descriptor {
        let data = try CanonicalJSON.encode(index)
        let digest = try putBlob(data)
        return Descriptor(mediaType: index.mediaType ?? .ociIndex, digest: digest, size: Int64(data.count))
    }
}
