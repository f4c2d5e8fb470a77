import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Why a file could not be written atomically: the step that failed, the file it failed on, and errno.
public struct AtomicFileError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The system call that failed.
    public enum Step: Equatable, Sendable {
        /// Creating the temporary file.
        case create
        /// Creating the temporary folder of an ``AtomicFolder``.
        case createFolder
        case write
        /// fsync of the temporary file.
        case sync
        /// Renaming the temporary file over its destination.
        case rename(to: String)
        /// Opening the destination's folder to fsync it.
        case openFolder
        /// fsync of the destination's folder.
        case syncFolder
    }

    public var step: Step
    /// The temporary file (or, for the folder steps, the folder).
    public var path: String
    /// The `errno` of the failed call.
    public var code: Int32

    /// The system's text for ``code``.
    public var reason: String { String(cString: strerror(code)) }

    /// The call as a word: `create`, `mkdtemp`, `write`, `fsync`, `rename to DEST`, `open`.
    public var operation: String {
        switch step {
        case .create: "create"
        case .createFolder: "mkdtemp"
        case .write: "write"
        case .sync, .syncFolder: "fsync"
        case .rename(let destination): "rename to \(destination)"
        case .openFolder: "open"
        }
    }

    public var description: String { "\(operation) \(path): \(reason)" }
}

/// plan's one way of writing a file so that a reader sees the old content or the new, never part of
/// it: the bytes go to a new temporary file (`O_EXCL|O_NOFOLLOW`, so nothing planted at its name is
/// followed), then ``commit(to:durability:)`` renames it over the destination. Until then nothing is
/// visible at the destination; on any failure, on ``discard()``, or when the value is dropped
/// uncommitted, the temporary file is removed. The descriptor is closed exactly once, whatever fails.
///
/// The temporary file must be on the destination's file system (the same folder, or a staging folder
/// beside it) for the rename to be atomic. Blobs, image layouts, archives, cache records and the
/// files `plan compile` writes all go through this type.
public final class AtomicFile {
    /// How much of the write must survive a crash.
    public enum Durability: Sendable {
        /// Atomic for readers only (cache records rebuilt when lost).
        case none
        /// The file's bytes are flushed before the rename.
        case file
        /// The bytes, and the rename itself (the folder is flushed after it).
        case fileAndFolder
    }

    /// Where the bytes go until the commit.
    public let temporaryPath: String
    /// The open temporary file; -1 once closed.
    public private(set) var fileDescriptor: Int32
    /// Bytes written so far.
    public private(set) var bytesWritten: Int64 = 0
    private var finished = false

    /// Creates the temporary file at `temporaryPath`, which must not exist, with `mode` (less the umask).
    public init(temporaryPath: String, mode: mode_t = 0o644) throws(AtomicFileError) {
        self.temporaryPath = temporaryPath
        fileDescriptor = open(temporaryPath, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
        guard fileDescriptor >= 0 else {
            finished = true
            throw AtomicFileError(step: .create, path: temporaryPath, code: errno)
        }
    }

    /// Creates a temporary file beside `destination`: `DEST.tmp-PID-RANDOM` (the writer's process id
    /// first, so that a cleaner can tell what a dead writer left).
    public convenience init(beside destination: String, mode: mode_t = 0o644) throws(AtomicFileError) {
        try self.init(temporaryPath: Self.temporaryPath(beside: destination), mode: mode)
    }

    /// `DEST.tmp-PID-RANDOM`.
    public static func temporaryPath(beside destination: String) -> String {
        destination + ".tmp-\(getpid())-\(String(UInt64.random(in: 0...UInt64.max), radix: 16))"
    }

    deinit { discard() }

    /// Appends bytes, retrying short writes and EINTR. A failure discards the file.
    public func write(_ bytes: UnsafeRawBufferPointer) throws(AtomicFileError) {
        guard fileDescriptor >= 0 else { throw AtomicFileError(step: .write, path: temporaryPath, code: EBADF) }
        guard var pointer = bytes.baseAddress else { return }
        var left = bytes.count
        while left > 0 {
            let written = systemWrite(fileDescriptor, pointer, left)
            if written < 0 {
                if errno == EINTR { continue }
                let code = errno
                discard()
                throw AtomicFileError(step: .write, path: temporaryPath, code: code)
            }
            left -= written
            pointer += written
            bytesWritten += Int64(written)
        }
    }

    /// Appends bytes.
    public func write(_ data: some DataProtocol) throws(AtomicFileError) {
        for region in data.regions {
            var failure: AtomicFileError?
            region.withUnsafeBytes { buffer in
                do throws(AtomicFileError) { try write(buffer) } catch { failure = error }
            }
            if let failure { throw failure }
        }
    }

    /// Flushes the file's bytes to the disk. A failure discards the file.
    public func sync() throws(AtomicFileError) {
        guard fileDescriptor >= 0 else { throw AtomicFileError(step: .sync, path: temporaryPath, code: EBADF) }
        guard fsync(fileDescriptor) == 0 else {
            let code = errno
            discard()
            throw AtomicFileError(step: .sync, path: temporaryPath, code: code)
        }
    }

    /// Closes the file and renames it to `destination`, replacing what is there. On failure the
    /// temporary file is removed and the destination left as it was.
    public func commit(to destination: String, durability: Durability = .none) throws(AtomicFileError) {
        guard !finished else { throw AtomicFileError(step: .rename(to: destination), path: temporaryPath, code: EBADF) }
        if durability != .none { try sync() }
        closeOnce()
        guard rename(temporaryPath, destination) == 0 else {
            let code = errno
            discard()
            throw AtomicFileError(step: .rename(to: destination), path: temporaryPath, code: code)
        }
        finished = true
        if durability == .fileAndFolder { try Self.syncFolder(of: destination) }
    }

    /// Drops the file: closed (if still open) and removed. Calling it again does nothing.
    public func discard() {
        closeOnce()
        if !finished { unlink(temporaryPath) }
        finished = true
    }

    private func closeOnce() {
        guard fileDescriptor >= 0 else { return }
        close(fileDescriptor)
        fileDescriptor = -1
    }

    /// fsyncs the folder holding `path`, so that a rename in it survives a crash.
    public static func syncFolder(of path: String) throws(AtomicFileError) {
        let folder = (path as NSString).deletingLastPathComponent
        let fd = open(folder.isEmpty ? "." : folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw AtomicFileError(step: .openFolder, path: folder, code: errno) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw AtomicFileError(step: .syncFolder, path: folder, code: errno) }
    }

    /// Writes `data` to `path` in one go: a temporary file (beside `path` unless given), then the rename.
    public static func write(_ data: some DataProtocol, to path: String, temporaryPath: String? = nil,
                             durability: Durability = .none) throws(AtomicFileError) {
        let file = try AtomicFile(temporaryPath: temporaryPath ?? Self.temporaryPath(beside: path))
        try file.write(data)
        try file.commit(to: path, durability: durability)
    }
}

/// write(2), which the methods named `write` hide inside the class.
private func systemWrite(_ fd: Int32, _ pointer: UnsafeRawPointer, _ count: Int) -> Int {
    write(fd, pointer, count)
}

extension ContentStoreError {
    /// A failed atomic write, as the store reports file errors.
    init(_ error: AtomicFileError) {
        self = .io(error.operation, error.path, error.reason)
    }
}
