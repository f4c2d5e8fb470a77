import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Thin wrappers over the POSIX calls the store needs (mkdir, stat, unlink, flock), turning errno
/// into ``ContentStoreError/io(_:_:_:)``; files are written through ``AtomicFile``.
enum POSIXFile {
    static func errorText(_ code: Int32) -> String { String(cString: strerror(code)) }

    static func fail(_ operation: String, _ path: String, _ code: Int32 = errno) -> ContentStoreError {
        .io(operation, path, errorText(code))
    }

    /// Creates a directory and its parents (mode 0755); succeeds if it exists.
    static func makeDirectories(_ path: String) throws(ContentStoreError) {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw .io("mkdir", path, (error as NSError).localizedDescription)
        }
    }

    static func exists(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0
    }

    static func size(_ path: String) -> Int64? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return Int64(st.st_size)
    }

    static func remove(_ path: String) {
        _ = unlink(path)
    }

    /// A name for a temporary file that no other thread or process picks: pid + random bits.
    static func temporaryName(prefix: String = ".tmp-") -> String {
        "\(prefix)\(getpid())-\(UInt64.random(in: 0...UInt64.max).hexPadded)"
    }

    /// Writes `data` to `path` atomically and durably (``AtomicFile``): a temporary file in the same
    /// directory, fsync, rename, fsync of the directory.
    static func writeAtomically(_ data: Data, to path: String) throws(ContentStoreError) {
        let temporary = ((path as NSString).deletingLastPathComponent as NSString).appendingPathComponent(temporaryName())
        do throws(AtomicFileError) {
            try AtomicFile.write(data, to: path, temporaryPath: temporary, durability: .fileAndFolder)
        } catch {
            throw ContentStoreError(error)
        }
    }

    /// Runs `body` holding an exclusive `flock` on `lockPath` (created if missing). The lock is
    /// per open file, so it excludes other threads of this process as well as other processes.
    static func withExclusiveLock<T>(_ lockPath: String, _ body: () throws(ContentStoreError) -> T) throws(ContentStoreError) -> T {
        let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw fail("open", lockPath) }
        defer { close(fd) }
        while flock(fd, LOCK_EX) != 0 {
            if errno != EINTR { throw fail("flock", lockPath) }
        }
        defer { _ = flock(fd, LOCK_UN) }
        return try body()
    }
}

extension UInt64 {
    var hexPadded: String {
        let s = String(self, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }
}
