import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Thin wrappers over the POSIX calls the store needs (open, write, fsync, rename, flock),
/// turning errno into ``ContentStoreError/io(_:_:_:)``.
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

    /// Opens a new file that must not exist yet, for writing, mode 0644.
    static func createExclusive(_ path: String) throws(ContentStoreError) -> Int32 {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw fail("create", path) }
        return fd
    }

    /// Writes all bytes, retrying short writes and EINTR.
    static func writeAll(_ fd: Int32, _ buffer: UnsafeRawBufferPointer, path: String) throws(ContentStoreError) {
        guard var p = buffer.baseAddress else { return }
        var left = buffer.count
        while left > 0 {
            let n = write(fd, p, left)
            if n < 0 {
                if errno == EINTR { continue }
                throw fail("write", path)
            }
            left -= n
            p += n
        }
    }

    static func sync(_ fd: Int32, path: String) throws(ContentStoreError) {
        guard fsync(fd) == 0 else { throw fail("fsync", path) }
    }

    /// fsyncs a directory so that a rename in it survives a crash.
    static func syncDirectory(_ path: String) throws(ContentStoreError) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw fail("open", path) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw fail("fsync", path) }
    }

    static func renameReplacing(_ from: String, _ to: String) throws(ContentStoreError) {
        guard rename(from, to) == 0 else { throw fail("rename to \(to)", from) }
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

    /// Writes `data` to `path` atomically: temp file in the same directory, fsync, rename, fsync dir.
    static func writeAtomically(_ data: Data, to path: String) throws(ContentStoreError) {
        let dir = (path as NSString).deletingLastPathComponent
        let tmp = (dir as NSString).appendingPathComponent(temporaryName())
        let fd = try createExclusive(tmp)
        do throws(ContentStoreError) {
            var failure: ContentStoreError?
            data.withUnsafeBytes { buf in
                do throws(ContentStoreError) { try writeAll(fd, buf, path: tmp) } catch { failure = error }
            }
            if let failure { throw failure }
            try sync(fd, path: tmp)
            close(fd)
            try renameReplacing(tmp, path)
        } catch {
            close(fd)
            remove(tmp)
            throw error
        }
        try syncDirectory(dir)
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
