import Foundation
import NIOConcurrencyHelpers
import PlanOCI

/// One cached step: what its key leads to.
public struct CacheRecord: Codable, Sendable, Equatable {
    /// The key the record is stored under (hex SHA-256).
    public var key: String
    /// What produced it, for `plan cache ls`: `plan/stage: run make`.
    public var description: String
    /// The step's changes as an uncompressed tar layer (its digest is the diff ID); nil when the step
    /// changed no file. For an artifact entry: the artifact's tree.
    public var layer: Descriptor?

    public init(key: String, description: String, layer: Descriptor?) {
        self.key = key
        self.description = description
        self.layer = layer
    }
}

/// A cache entry whose bytes do not match their digest.
public struct CacheCorruption: Error, CustomStringConvertible, Sendable {
    public var digest: Digest
    public var path: String
    public var description: String { "cache entry \(digest) at \(path) is corrupt (its content does not match its digest)" }
}

/// The content-addressed build cache of `plan run`, in `CACHE/build` (see `CacheLayout`):
///
/// - `blobs/sha256/HEX`: layers, artifact trees and records, each named by its SHA-256, written to a
///   temporary file and renamed, so a blob is either complete or absent.
/// - `refs/KEY`: the digest of the record for a step key; its modification time is the entry's last use.
/// - `unpacked/HEX`: a layer unpacked as an overlayfs directory, for stacking under later steps.
/// - `history/POSITION.json`: the inputs each step of each plan had the last time it was built, for
///   `--explain`.
/// - `converted/SOURCEHEX-ENCODING.json`: a layer re-encoded for image outputs (gzip, clamped times),
///   remembered (`encodedLayer(_:encoding:)`); its blob is in `blobs/sha256/`, kept as long as its source.
/// - `lock`: runs hold it shared, `plan cache prune` exclusively.
public final class BuildCache: Sendable {
    /// The cache folder's paths; the build cache is `layout.build`.
    public let layout: CacheLayout
    /// `layout.build`.
    public let root: String
    let store: ContentStore
    /// Keys read or written by this process, for `--cache-to`.
    private let used = NIOLockedValueBox<Set<String>>([])

    /// The keys this process took from or put into the cache, sorted.
    public func keysUsed() -> [String] {
        used.withLockedValue { $0.sorted() }
    }

    private func markUsed(_ key: String) {
        _ = used.withLockedValue { $0.insert(key) }
    }

    public init(cacheDirectory: String) throws {
        layout = CacheLayout(root: cacheDirectory)
        root = layout.build
        store = try ContentStore(root: URL(fileURLWithPath: root))
        for folder in [layout.buildReferences, layout.unpackedLayers, layout.buildHistory] {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        }
    }

    // MARK: Locking

    /// Holds `lock` (shared for runs, exclusive for pruning) until `body` returns.
    public func withLock<T>(exclusive: Bool, _ body: () async throws -> T) async throws -> T {
        let lock = try CacheLock(path: layout.buildLock, exclusive: exclusive)
        defer { withExtendedLifetime(lock) {} }
        return try await body()
    }

    /// Takes `lock` until the returned value is released (for commands that use the stores without
    /// building, like `plan image pull`).
    public func lock(exclusive: Bool) throws -> CacheLock {
        try CacheLock(path: layout.buildLock, exclusive: exclusive)
    }

    // MARK: Entries

    /// The record stored for `key`, checked against its digest. A corrupt or dangling entry is
    /// dropped (and reported through `warn`), and counts as a miss. A hit marks the entry as used.
    public func record(for key: String, warn: (String) -> Void) -> CacheRecord? {
        entry(for: key, warn: warn)?.record
    }

    /// Whether `key` has a reference (not checked, not marked as used: for imports).
    func hasReference(_ key: String) -> Bool { access(layout.buildReferences + "/" + key, F_OK) == 0 }

    /// `record(for:warn:)` with the descriptor of the record's blob, for exporting the entry.
    func entry(for key: String, warn: (String) -> Void) -> (record: CacheRecord, blob: Descriptor)? {
        let refPath = layout.buildReferences + "/" + key
        guard let text = try? String(contentsOfFile: refPath, encoding: .utf8) else { return nil }
        guard let digest = try? Digest(parsing: text.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            warn("cache entry \(key) has an unreadable reference; dropped, rebuilding")
            unlink(refPath)
            return nil
        }
        do {
            let data = try store.data(for: digest, verify: true)
            let record = try JSONDecoder().decode(CacheRecord.self, from: data)
            guard record.key == key else { throw CacheCorruption(digest: digest, path: store.path(for: digest).path) }
            if let layer = record.layer {
                guard store.size(of: layer.digest) == layer.size else {
                    warn("cache entry \(key): layer \(layer.digest) is missing or has the wrong size; dropped, rebuilding")
                    drop(key: key, layer: layer.digest)
                    return nil
                }
            }
            touch(refPath)
            markUsed(key)
            return (record, Descriptor(mediaType: CacheTransfer.recordType, digest: digest, size: Int64(data.count)))
        } catch {
            warn("cache entry \(key): record \(digest) is corrupt; dropped, rebuilding")
            store.remove(digest)
            unlink(refPath)
            return nil
        }
    }

    /// Stores `record` under its key: the record blob first, then the reference, each atomically.
    /// An imported entry is not marked as used by this build (`--cache-to` exports used entries).
    public func put(_ record: CacheRecord, imported: Bool = false) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let digest = try store.write(try encoder.encode(record))
        try Self.writeAtomically(Data(digest.description.utf8), to: layout.buildReferences + "/" + record.key)
        if !imported { markUsed(record.key) }
    }

    /// Forgets a corrupt entry: its reference, its layer blob and the layer's unpacked folder.
    public func drop(key: String?, layer: Digest?) {
        if let key { unlink(layout.buildReferences + "/" + key) }
        if let layer {
            store.remove(layer)
            try? FileManager.default.removeItem(atPath: layout.unpackedLayers + "/" + layer.encoded)
        }
    }

    /// Where a blob lives.
    public func path(of digest: Digest) -> String { store.path(for: digest).path }

    /// Copies a stored blob into an OCI layout, streaming; a missing or changed one is a `CacheCorruption`.
    func export(_ descriptor: Descriptor, to layout: OCILayout) throws {
        do {
            try layout.importBlob(fromFile: path(of: descriptor.digest), digest: descriptor.digest, size: descriptor.size)
        } catch {
            throw CacheCorruption(digest: descriptor.digest, path: path(of: descriptor.digest))
        }
    }

    // MARK: Layers

    /// Writes a tar stream into the store; `produce` fills the writer. Nil when it wrote no entry.
    func storeTar(fixedModificationTime: Int64? = nil, _ produce: (TarWriter) throws -> Void) throws -> Descriptor? {
        let writer = try store.writer()
        let tar = TarWriter(BlobWriterSink(writer), options: TarWriter.Options(fixedModificationTime: fixedModificationTime))
        try produce(tar)
        guard writer.bytesWritten > 0 else {
            writer.abort()
            return nil
        }
        try tar.finish()
        let size = writer.bytesWritten
        let digest = try writer.commit()
        return Descriptor(mediaType: .ociLayer, digest: digest, size: size)
    }

    /// Stores an overlayfs upper folder as a layer and keeps the folder itself as the layer's
    /// unpacked form (moved, not copied). Returns nil when the step changed nothing.
    func storeUpper(_ upper: String) throws -> Descriptor? {
        guard let layer = try storeTar({ try LayerDiffer().overlayUpper(upper, to: $0) }) else { return nil }
        let destination = layout.unpackedLayers + "/" + layer.digest.encoded
        if rename(upper, destination) != 0 {
            // Already unpacked by an earlier or concurrent run: keep that one.
            try? FileManager.default.removeItem(atPath: upper)
        }
        return layer
    }

    /// The layer unpacked as an overlayfs lower folder, unpacking (after checking its digest) when needed.
    func unpacked(_ layer: Descriptor) throws -> String {
        let destination = layout.unpackedLayers + "/" + layer.digest.encoded
        if access(destination, F_OK) == 0 { return destination }
        let temporary = layout.unpackedLayers + "/.tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: temporary, withIntermediateDirectories: true)
        do {
            try apply(layer.digest, to: temporary, options: .init(overlayWhiteouts: true))
            if rename(temporary, destination) != 0 { try? FileManager.default.removeItem(atPath: temporary) }
        } catch {
            try? FileManager.default.removeItem(atPath: temporary)
            throw error
        }
        return destination
    }

    /// Applies a stored layer to `directory`, hashing it as it streams (a layer is never held in
    /// memory). A layer that is missing or whose bytes do not match its digest throws
    /// `CacheCorruption`, leaving `directory` partly written: callers apply into folders they
    /// throw away on failure.
    func apply(_ digest: Digest, to directory: String, options: LayerApplier.Options = .init()) throws {
        let file = path(of: digest)
        guard let opened = try? FileByteSource(path: file) else { throw CacheCorruption(digest: digest, path: file) }
        let source = HashingByteSource(opened)
        do {
            try LayerApplier(options: options).apply(TarReader(source), to: directory)
        } catch {
            // Bytes that do not parse are usually bytes that changed: say so when the digest agrees.
            if (try? source.finish()) != digest { throw CacheCorruption(digest: digest, path: file) }
            throw error
        }
        guard try source.finish() == digest else { throw CacheCorruption(digest: digest, path: file) }
    }

    // MARK: History (for --explain)

    /// The inputs a step had when it was last built at `position`.
    func lastInputs(at position: String) -> StepInputs? {
        guard let data = FileManager.default.contents(atPath: layout.buildHistory + "/" + position + ".json") else { return nil }
        return try? JSONDecoder().decode(StepInputs.self, from: data)
    }

    /// The key a step had when last built at `position` (a small file, read on every hit).
    func lastKey(at position: String) -> String? {
        try? String(contentsOfFile: layout.buildHistory + "/" + position + ".key", encoding: .utf8)
    }

    func remember(_ inputs: StepInputs, at position: String) {
        guard let data = try? JSONEncoder().encode(inputs) else { return }
        try? Self.writeAtomically(data, to: layout.buildHistory + "/" + position + ".json")
        try? Self.writeAtomically(Data(inputs.key.utf8), to: layout.buildHistory + "/" + position + ".key")
    }

    // MARK: Files

    /// Replaces a small file (a ref, a history record) at once; `PATH.tmp-PID-…` until then, which
    /// `prune` removes when its writer is gone.
    static func writeAtomically(_ data: Data, to path: String) throws {
        do throws(AtomicFileError) {
            try AtomicFile.write(data, to: path)
        } catch {
            if case .rename = error.step { throw CacheError.io("rename", path, error.code) }
            throw CacheError.io(error.operation, error.path, error.code)
        }
    }

    func touch(_ path: String) {
        let now = (1 << 30) - 1  // UTIME_NOW
        var times = [timespec(tv_sec: 0, tv_nsec: now), timespec(tv_sec: 0, tv_nsec: now)]
        _ = utimensat(AT_FDCWD, path, &times, 0)
    }
}

/// A held `flock` on the cache's lock file, released when the value goes away.
public final class CacheLock {
    private let fd: Int32

    init(path: String, exclusive: Bool) throws {
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw CacheError.io("open", path, errno) }
        while flock(fd, exclusive ? LOCK_EX : LOCK_SH) != 0 {
            guard errno == EINTR else {
                let code = errno
                close(fd)
                throw CacheError.io("flock", path, code)
            }
        }
    }

    deinit { close(fd) }
}

public enum CacheError: Error, CustomStringConvertible {
    case io(String, String, Int32)

    public var description: String {
        switch self {
        case .io(let call, let path, let code): "\(call) \(path): \(String(cString: strerror(code)))"
        }
    }
}

/// Streams a tar into a blob writer.
final class BlobWriterSink: ByteSink {
    let writer: BlobWriter

    init(_ writer: BlobWriter) { self.writer = writer }

    func write(_ bytes: UnsafeRawBufferPointer) throws { try writer.write(bytes) }

    func finish() throws {}
}
