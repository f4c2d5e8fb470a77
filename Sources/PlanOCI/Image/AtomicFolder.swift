import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// ``AtomicFile``'s counterpart for a folder: built in a new folder beside its destination (`mkdtemp`,
/// so nothing planted at its name is followed), then swapped in by ``commit(to:settingAsideAt:)`` —
/// the old folder renamed aside for the moment of the swap, put back if the swap fails, removed
/// after. A reader sees the old folder or the new one, never a half-built one. Dropped uncommitted
/// (or ``discard()``ed), the folder is removed. What a killed writer leaves is the caller's to clean
/// up: the names are the caller's.
public final class AtomicFolder {
    /// The folder to build in.
    public let path: String
    private var finished = false

    /// Creates `prefix` followed by six random characters, mode 0700 (until the commit).
    public init(prefix: String) throws(AtomicFileError) {
        var template = Array((prefix + "XXXXXX").utf8CString)
        let made = template.withUnsafeMutableBufferPointer { buffer in buffer.baseAddress.flatMap { mkdtemp($0) } }
        guard let made else { throw AtomicFileError(step: .createFolder, path: prefix + "XXXXXX", code: errno) }
        path = String(cString: made)
    }

    deinit { discard() }

    /// Moves the folder to `destination`. Whatever is there is first renamed to `aside` and removed once
    /// the folder is in place; when the folder cannot be moved, it is put back. A folder the build left
    /// at `mkdtemp`'s 0700 gets the usual mode (0777 less the umask) first.
    public func commit(to destination: String, settingAsideAt aside: String) throws(AtomicFileError) {
        guard !finished else { throw AtomicFileError(step: .rename(to: destination), path: path, code: ENOENT) }
        publishMode()
        var info = stat()
        let replacing = lstat(destination, &info) == 0
        if replacing, rename(destination, aside) != 0 {
            throw AtomicFileError(step: .rename(to: aside), path: destination, code: errno)
        }
        guard rename(path, destination) == 0 else {
            let code = errno
            if replacing { _ = rename(aside, destination) }
            throw AtomicFileError(step: .rename(to: destination), path: path, code: code)
        }
        finished = true
        if replacing { Self.remove(aside) }
    }

    /// Removes the folder and everything in it. Calling it again does nothing.
    public func discard() {
        guard !finished else { return }
        finished = true
        Self.remove(path)
    }

    private func publishMode() {
        var info = stat()
        guard lstat(path, &info) == 0, info.st_mode & 0o7777 == 0o700 else { return }
        let mask = umask(0o022)
        umask(mask)
        _ = chmod(path, 0o777 & ~mask)
    }

    private static func remove(_ path: String) {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        try? FileManager.default.removeItem(atPath: path)
    }
}
