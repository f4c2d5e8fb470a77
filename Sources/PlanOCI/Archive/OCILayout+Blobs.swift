import Foundation

extension BlobDirectory {
    /// Every blob's digest (sha256 only, as this module writes), sorted.
    func digests() -> [Digest] {
        let dir = (blobsDirectory as NSString).appendingPathComponent("sha256")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        return names.compactMap { try? Digest(algorithm: "sha256", encoded: $0) }.sorted()
    }
}

extension OCILayout {
    /// Every blob in the layout, sorted by digest.
    public func blobDigests() throws -> [Digest] { blobs.digests() }
}
