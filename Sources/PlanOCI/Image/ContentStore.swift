import Foundation

/// A content-addressed local store of image blobs and of the references that name them.
///
/// Layout under ``root``:
/// - `blobs/sha256/<hex>`: every blob (layers, configs, manifests, indexes), by digest;
/// - `tmp/`: blobs being written (same file system, so publishing is one `rename`);
/// - `refs.json`: normalised reference → digest of its manifest or index, sorted JSON;
/// - `refs.lock`: `flock`ed while `refs.json` is rewritten.
///
/// Blobs are written to a temporary file, hashed while written, checked, fsynced and renamed
/// into place, so an entry is visible only when it is complete and has the right digest. Two
/// threads or processes may write the same blob at once: both succeed and one file remains.
public struct ContentStore: Sendable {
    /// The store's root directory.
    public let root: URL
    let blobs: BlobDirectory

    /// Opens (creating if needed) the store at `root`.
    public init(root: URL) throws(ContentStoreError) {
        self.root = root.standardizedFileURL
        let path = self.root.path
        blobs = BlobDirectory(root: path, temporaryDirectory: (path as NSString).appendingPathComponent("tmp"))
        try POSIXFile.makeDirectories((path as NSString).appendingPathComponent("blobs/sha256"))
        try POSIXFile.makeDirectories(blobs.temporaryDirectory)
    }

    /// The file that holds a blob (it may not exist).
    public func path(for digest: Digest) -> URL { URL(fileURLWithPath: blobs.path(for: digest)) }

    /// Whether the blob is stored.
    public func contains(_ digest: Digest) -> Bool { blobs.contains(digest) }

    /// A stored blob's size, or nil.
    public func size(of digest: Digest) -> Int64? { POSIXFile.size(blobs.path(for: digest)) }

    /// Reads a blob. With `verify`, its SHA-256 is checked again.
    public func data(for digest: Digest, verify: Bool = false) throws(ContentStoreError) -> Data {
        let data = try blobs.read(digest)
        if verify {
            let actual = Digest.sha256(of: data)
            if actual != digest { throw .digestMismatch(expected: digest, actual: actual) }
        }
        return data
    }

    /// Stores bytes; returns their digest. With `expecting`, a different digest is an error and
    /// nothing is stored.
    @discardableResult
    public func write(_ data: Data, expecting digest: Digest? = nil) throws(ContentStoreError) -> Digest {
        try blobs.write(data, expecting: digest)
    }

    /// Starts streaming a blob into the store. See ``BlobWriter``.
    public func writer(expecting digest: Digest? = nil, size: Int64? = nil) throws(ContentStoreError) -> BlobWriter {
        try blobs.writer(expecting: digest, size: size)
    }

    /// Copies the file at `path` in as the blob `digest`, streaming; fails (storing nothing) when its
    /// bytes do not have that digest and size.
    public func importBlob(fromFile path: String, digest: Digest, size: Int64?) throws {
        if let size, self.size(of: digest) == size { return }
        try blobs.importFile(path, digest: digest, size: size)
    }

    /// Removes a blob (no error if absent).
    public func remove(_ digest: Digest) {
        POSIXFile.remove(blobs.path(for: digest))
    }

    /// Every stored blob's digest, sorted.
    public func digests() -> [Digest] {
        blobs.digests()
    }

    /// Names of files in `tmp/` (writes in progress or left by a crash).
    public func temporaryFiles() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: blobs.temporaryDirectory)) ?? []).sorted()
    }

    // MARK: references

    var refsPath: String { root.appendingPathComponent("refs.json").path }
    var refsLockPath: String { root.appendingPathComponent("refs.lock").path }

    /// All stored references: normalised reference string → manifest or index digest.
    public func references() throws(ContentStoreError) -> [String: Digest] {
        guard POSIXFile.exists(refsPath) else { return [:] }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: refsPath))
        } catch {
            throw .io("read", refsPath, (error as NSError).localizedDescription)
        }
        do {
            return try JSONDecoder().decode([String: Digest].self, from: data)
        } catch {
            throw .corruptReferences(refsPath, CanonicalJSON.describe(error))
        }
    }

    /// The digest a reference was stored under, if any.
    public func digest(for reference: ImageReference) throws(ContentStoreError) -> Digest? {
        try references()[reference.description]
    }

    /// Records `reference` → `digest`, atomically, under the store's lock (safe across processes).
    public func setReference(_ reference: ImageReference, to digest: Digest) throws(ContentStoreError) {
        try updateReferences { $0[reference.description] = digest }
    }

    /// Forgets a reference.
    public func removeReference(_ reference: ImageReference) throws(ContentStoreError) {
        try updateReferences { $0[reference.description] = nil }
    }

    private func updateReferences(_ change: (inout [String: Digest]) -> Void) throws(ContentStoreError) {
        let path = refsPath
        try POSIXFile.withExclusiveLock(refsLockPath) { () throws(ContentStoreError) in
            var refs = try references()
            change(&refs)
            let data: Data
            do throws(ImageError) {
                data = try CanonicalJSON.encode(refs)
            } catch {
                throw .corruptReferences(path, error.description)
            }
            try POSIXFile.writeAtomically(data, to: path)
        }
    }
}

/// Errors of the content store and of blob writing.
public enum ContentStoreError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A file operation failed (operation, path, system message).
    case io(String, String, String)
    /// The content's SHA-256 is not the digest it was announced with; nothing was stored.
    case digestMismatch(expected: Digest, actual: Digest)
    /// The content's size is not the size it was announced with; nothing was stored.
    case sizeMismatch(expected: Int64, actual: Int64, digest: Digest?)
    /// No such blob in the store.
    case notFound(Digest)
    /// Only sha256 is supported for stored blobs.
    case unsupportedAlgorithm(String)
    /// `refs.json` is unreadable (path, why).
    case corruptReferences(String, String)

    public var description: String {
        switch self {
        case .io(let op, let path, let why): return "\(op) \(path): \(why)"
        case .digestMismatch(let expected, let actual):
            return "content digest mismatch: expected \(expected), got \(actual); nothing was stored"
        case .sizeMismatch(let expected, let actual, let digest):
            let of = digest.map { " of \($0)" } ?? ""
            return "content size mismatch\(of): expected \(expected) bytes, got \(actual)\(actual > expected ? " or more" : ""); nothing was stored"
        case .notFound(let d): return "blob \(d) is not in the store"
        case .unsupportedAlgorithm(let a): return "digest algorithm \(a) is not supported by the store (sha256 only)"
        case .corruptReferences(let path, let why): return "cannot read references in \(path): \(why)"
        }
    }
}
