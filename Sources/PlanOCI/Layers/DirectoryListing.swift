#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The one `readdir(3)` loop: the names in a folder, for every reader of folders (layers, outputs,
/// rooted file operations, the cache).
public enum DirectoryListing {
    /// The names in the folder open as `fd` (any descriptor of it, `O_PATH` too), without `.` and
    /// `..`, sorted by their bytes. Throws the errno of the call that failed.
    public static func names(of fd: Int32) throws(Failure) -> [String] {
        // A fresh descriptor: the given one may be O_PATH, which fdopendir refuses, and fdopendir
        // takes over the descriptor it is given.
        let copy = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard copy >= 0 else { throw Failure(call: "openat", errno: errno) }
        guard let directory = fdopendir(copy) else {
            let code = errno
            close(copy)
            throw Failure(call: "fdopendir", errno: code)
        }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." && !name.isEmpty { names.append(name) }
        }
        return names.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
    }

    /// The names in the folder at `path` (links followed), as `names(of:)`; empty when it cannot be read.
    public static func names(atPath path: String) -> [String] {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return [] }
        defer { close(fd) }
        return (try? names(of: fd)) ?? []
    }

    /// Which call failed, and its errno.
    public struct Failure: Error, Sendable {
        public var call: String
        public var errno: Int32
    }
}
