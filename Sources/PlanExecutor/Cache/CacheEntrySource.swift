import Foundation
import PlanOCI

/// Where `--cache-from` takes entries from: an OCI layout folder or a registry. Both give the same
/// documents (an index of entry manifests) and blobs; ``CacheTransfer`` imports from either the same way.
protocol CacheEntrySource: Sendable {
    /// The index of entries; nil when there is no cache there yet (no `index.json`, or 404).
    func index() async throws -> ImageIndex?
    /// A manifest's bytes, checked against its digest.
    func document(_ descriptor: Descriptor) async throws -> Data
    /// Copies a blob into `store`, checking its digest and size before it becomes visible there.
    func fetch(_ descriptor: Descriptor, into store: ContentStore) async throws
}

/// Entries in an OCI image layout (`dir=PATH`, `type=local,src=PATH`).
struct LayoutEntrySource: CacheEntrySource {
    let path: String

    /// `blobs/ALGORITHM/ENCODED`, as the layout spec names a blob.
    func blobPath(_ digest: Digest) -> String { path + "/blobs/" + digest.algorithm + "/" + digest.encoded }

    func index() async throws -> ImageIndex? {
        guard FileManager.default.fileExists(atPath: path + "/index.json") else { return nil }
        return try OCILayout.open(at: URL(fileURLWithPath: path)).index()
    }

    func document(_ descriptor: Descriptor) async throws -> Data {
        let file = blobPath(descriptor.digest)
        guard let data = FileManager.default.contents(atPath: file), Digest.sha256(of: data) == descriptor.digest else {
            throw CacheCorruption(digest: descriptor.digest, path: file)
        }
        return data
    }

    func fetch(_ descriptor: Descriptor, into store: ContentStore) async throws {
        // Streamed; the store refuses bytes that do not match the digest.
        let file = blobPath(descriptor.digest)
        do {
            try store.importBlob(fromFile: file, digest: descriptor.digest, size: descriptor.size)
        } catch {
            throw CacheCorruption(digest: descriptor.digest, path: file)
        }
    }
}

/// Entries in a registry: an OCI index at `reference` (`type=registry,ref=REF`). Every document and
/// blob is checked against its digest by the client.
struct RegistryEntrySource: CacheEntrySource {
    let client: RegistryClient
    let reference: ImageReference

    func index() async throws -> ImageIndex? {
        let fetched: RegistryClient.FetchedManifest
        do {
            fetched = try await client.fetchManifest(reference)
        } catch RegistryError.notFound {
            return nil
        }
        guard fetched.mediaType.isIndex else {
            throw RegistryError.invalidDocument("cache \(reference)", "it is an image manifest, not an index of cache entries")
        }
        do {
            return try JSONDecoder().decode(ImageIndex.self, from: fetched.data)
        } catch {
            throw RegistryError.invalidDocument("cache index \(reference)", "\(error)")
        }
    }

    func document(_ descriptor: Descriptor) async throws -> Data {
        try await client.fetchManifest(reference, descriptor.digest.description).data
    }

    func fetch(_ descriptor: Descriptor, into store: ContentStore) async throws {
        try await client.fetchBlob(descriptor, of: reference, into: store)
    }
}
