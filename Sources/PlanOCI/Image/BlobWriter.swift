import struct Crypto.SHA256
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Streams one blob into a blob directory: bytes go to a temporary file while SHA-256 is
/// computed; ``commit()`` checks the digest (and size, if known), fsyncs and renames the file to
/// `blobs/sha256/<hex>`. Until then nothing is visible under `blobs/`; on any failure, or
/// ``abort()``, or when the writer is dropped uncommitted, the temporary file is removed.
public final class BlobWriter {
    private let file: AtomicFile
    private var hasher = SHA256()
    private let blobs: BlobDirectory
    /// The digest the content must have, if known before writing.
    public let expectedDigest: Digest?
    /// The size the content must have, if known before writing.
    public let expectedSize: Int64?
    /// Bytes written so far.
    public var bytesWritten: Int64 { file.bytesWritten }
    private var finished = false

    private var temporaryPath: String { file.temporaryPath }

    init(blobs: BlobDirectory, expectedDigest: Digest?, expectedSize: Int64?) throws(ContentStoreError) {
        if let d = expectedDigest, d.algorithm != "sha256" { throw .unsupportedAlgorithm(d.algorithm) }
        self.blobs = blobs
        self.expectedDigest = expectedDigest
        self.expectedSize = expectedSize
        try POSIXFile.makeDirectories(blobs.temporaryDirectory)
        let temporaryPath = (blobs.temporaryDirectory as NSString).appendingPathComponent(POSIXFile.temporaryName())
        do throws(AtomicFileError) {
            file = try AtomicFile(temporaryPath: temporaryPath)
        } catch {
            throw ContentStoreError(error)
        }
    }

    /// Appends bytes. Fails early when more bytes arrive than the expected size.
    public func write(_ bytes: UnsafeRawBufferPointer) throws(ContentStoreError) {
        guard !finished else { throw .io("write", temporaryPath, "writer already finished") }
        if let expectedSize, bytesWritten + Int64(bytes.count) > expectedSize {
            let got = bytesWritten + Int64(bytes.count)
            discard()
            throw .sizeMismatch(expected: expectedSize, actual: got, digest: expectedDigest)
        }
        do throws(AtomicFileError) {
            try file.write(bytes)
        } catch {
            discard()
            throw ContentStoreError(error)
        }
        hasher.update(bufferPointer: bytes)
    }

    /// Appends bytes.
    public func write<D: DataProtocol>(_ data: D) throws(ContentStoreError) {
        for region in data.regions {
            var failure: ContentStoreError?
            region.withUnsafeBytes { buf in
                do throws(ContentStoreError) { try write(buf) } catch { failure = error }
            }
            if let failure { throw failure }
        }
    }

    /// Verifies and publishes the blob; returns its digest. When another writer (thread or
    /// process) published the same digest first, this one just succeeds.
    @discardableResult
    public func commit() throws(ContentStoreError) -> Digest {
        guard !finished else { throw .io("commit", temporaryPath, "writer already finished") }
        let actual = Digest.sha256(hasher.finalize())
        if let expectedSize, bytesWritten != expectedSize {
            discard()
            throw .sizeMismatch(expected: expectedSize, actual: bytesWritten, digest: expectedDigest)
        }
        if let expectedDigest, expectedDigest != actual {
            discard()
            throw .digestMismatch(expected: expectedDigest, actual: actual)
        }
        finished = true
        let final = blobs.path(for: actual)
        do throws(ContentStoreError) {
            try POSIXFile.makeDirectories((final as NSString).deletingLastPathComponent)
        } catch {
            file.discard()
            throw error
        }
        // rename(2) replaces atomically: a concurrent writer of the same digest leaves the same bytes
        // either way, and readers never see a partial file.
        do throws(AtomicFileError) {
            try file.commit(to: final, durability: .fileAndFolder)
        } catch {
            throw ContentStoreError(error)
        }
        return actual
    }

    /// Drops the blob: nothing is left behind.
    public func abort() {
        discard()
    }

    private func discard() {
        file.discard()
        finished = true
    }
}

/// A directory of blobs by digest, `blobs/<algorithm>/<hex>`, as in an OCI image layout, with
/// a directory for temporary files on the same file system (so renames are atomic).
struct BlobDirectory: Sendable {
    /// The directory that contains `blobs/`.
    let root: String
    /// Where temporary files go while blobs are written.
    let temporaryDirectory: String

    var blobsDirectory: String { (root as NSString).appendingPathComponent("blobs") }

    func path(for digest: Digest) -> String {
        "\(root)/blobs/\(digest.algorithm)/\(digest.encoded)"
    }

    func contains(_ digest: Digest) -> Bool { POSIXFile.exists(path(for: digest)) }

    func writer(expecting digest: Digest?, size: Int64?) throws(ContentStoreError) -> BlobWriter {
        try BlobWriter(blobs: self, expectedDigest: digest, expectedSize: size)
    }

    /// Writes bytes (skipping the write when the blob is already there) and returns the digest.
    @discardableResult
    func write(_ data: Data, expecting digest: Digest? = nil) throws(ContentStoreError) -> Digest {
        let actual = Digest.sha256(of: data)
        if let digest, digest != actual { throw .digestMismatch(expected: digest, actual: actual) }
        if contains(actual) { return actual }
        let w = try writer(expecting: actual, size: Int64(data.count))
        try w.write(data)
        return try w.commit()
    }

    func read(_ digest: Digest) throws(ContentStoreError) -> Data {
        let p = path(for: digest)
        guard POSIXFile.exists(p) else { throw .notFound(digest) }
        do {
            return try Data(contentsOf: URL(fileURLWithPath: p))
        } catch {
            throw .io("read", p, (error as NSError).localizedDescription)
        }
    }
}
