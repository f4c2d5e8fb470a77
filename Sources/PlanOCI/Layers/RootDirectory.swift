#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A directory that paths are resolved inside, never outside: the containment half of safe
/// extraction (what securejoin / `openat2(RESOLVE_IN_ROOT)` do).
///
/// Paths are walked one component at a time with `openat(O_PATH | O_NOFOLLOW | O_DIRECTORY)`
/// relative to the previous component's descriptor. A symbolic link met on the way is read with
/// `readlinkat` and its target is resolved *inside the root*: an absolute target starts again at
/// the root, and `..` never climbs above it. So `link -> /` followed by `link/etc/x` lands at
/// `ROOT/etc/x`. Nothing is ever opened through the kernel's own symlink following.
final class RootDirectory {
    /// The root itself, opened as a directory.
    let descriptor: Int32
    let path: String
    /// Symbolic links followed for one path before giving up (as Linux's MAXSYMLINKS).
    static let maximumLinks = 40
    /// Linux's `O_PATH` (not exported by the Glibc module without _GNU_SOURCE).
    static let openPath: Int32 = 0o10000000

    init(path: String) throws {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw LayerError.system(call: "open", path: path, errno: errno) }
        descriptor = fd
        self.path = path
    }

    deinit { close(descriptor) }

    /// The components of an entry's path. A leading `/` and `.` components are dropped (absolute
    /// names are taken relative to the root, as containerd and umoci do); a `..` component is refused.
    static func components(of name: String, entry: String) throws -> [String] {
        var parts: [String] = []
        for part in name.split(separator: "/", omittingEmptySubsequences: true) {
            if part == "." { continue }
            if part == ".." { throw LayerError.pathEscapesRoot(entry: entry) }
            parts.append(String(part))
        }
        return parts
    }

    /// Opens (with `O_PATH`) the directory named by `components`, resolving symbolic links inside the
    /// root. Missing directories are created (mode 0755) when `create` is set; otherwise a missing
    /// one gives `nil`. The caller closes the returned descriptor.
    func openDirectory(_ components: [String], entry: String, create: Bool) throws -> Int32? {
        var stack: [Int32] = []
        func current() -> Int32 { stack.last ?? descriptor }
        defer { for fd in stack { close(fd) } }
        var pending = Array(components.reversed())
        var links = 0
        while let part = pending.popLast() {
            if part.isEmpty || part == "." { continue }
            if part == ".." {
                if let fd = stack.popLast() { close(fd) }
                continue
            }
            let fd = openat(current(), part, Self.openPath | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            if fd >= 0 {
                stack.append(fd)
                continue
            }
            let error = errno
            if error == ENOENT {
                guard create else { return nil }
                if mkdirat(current(), part, 0o755) != 0 && errno != EEXIST {
                    throw LayerError.system(call: "mkdirat", path: part, errno: errno)
                }
                pending.append(part)
                continue
            }
            guard error == ENOTDIR || error == ELOOP else {
                throw LayerError.system(call: "openat", path: part, errno: error)
            }
            var info = stat()
            guard fstatat(current(), part, &info, AT_SYMLINK_NOFOLLOW) == 0 else {
                throw LayerError.system(call: "fstatat", path: part, errno: errno)
            }
            guard info.st_mode & S_IFMT == S_IFLNK else { throw LayerError.notADirectory(entry: entry) }
            links += 1
            guard links <= Self.maximumLinks else { throw LayerError.tooManySymlinks(entry: entry) }
            let target = try Self.readLink(current(), part)
            if target.hasPrefix("/") {
                for fd in stack { close(fd) }
                stack.removeAll()
            }
            // `..` inside the target pops the stack, which stops at the root.
            pending.append(contentsOf: target.split(separator: "/", omittingEmptySubsequences: true).map(String.init).reversed())
        }
        if let last = stack.popLast() { return last }
        let fd = dup(descriptor)
        guard fd >= 0 else { throw LayerError.system(call: "dup", path: path, errno: errno) }
        return fd
    }

    /// The target of the symbolic link `name` in directory `dirfd`.
    static func readLink(_ dirfd: Int32, _ name: String) throws -> String {
        var size = 256
        while true {
            var buffer = [UInt8](repeating: 0, count: size)
            let n = buffer.withUnsafeMutableBytes { raw -> Int in
                guard let base = raw.baseAddress else { return -1 }
                return readlinkat(dirfd, name, base.assumingMemoryBound(to: CChar.self), size)
            }
            guard n >= 0 else { throw LayerError.system(call: "readlinkat", path: name, errno: errno) }
            if n < size { return String(decoding: buffer[0..<n], as: UTF8.self) }
            size *= 4
            guard size <= 1 << 20 else { throw LayerError.system(call: "readlinkat", path: name, errno: ENAMETOOLONG) }
        }
    }

    /// `lstat` of `name` in `dirfd`; `nil` when it does not exist.
    static func lstatAt(_ dirfd: Int32, _ name: String) throws -> stat? {
        var info = stat()
        if fstatat(dirfd, name, &info, AT_SYMLINK_NOFOLLOW) == 0 { return info }
        if errno == ENOENT { return nil }
        throw LayerError.system(call: "fstatat", path: name, errno: errno)
    }

    /// Removes `name` from `dirfd`, recursively for a directory, never following a symbolic link.
    static func removeTree(_ dirfd: Int32, _ name: String) throws {
        guard let info = try lstatAt(dirfd, name) else { return }
        if info.st_mode & S_IFMT == S_IFDIR {
            try forEachChild(dirfd, name) { childDir, child in try removeTree(childDir, child) }
            guard unlinkat(dirfd, name, AT_REMOVEDIR) == 0 || errno == ENOENT else {
                throw LayerError.system(call: "unlinkat", path: name, errno: errno)
            }
        } else {
            guard unlinkat(dirfd, name, 0) == 0 || errno == ENOENT else {
                throw LayerError.system(call: "unlinkat", path: name, errno: errno)
            }
        }
    }

    /// Calls `body` with (directory descriptor, child name) for every child of directory `name`
    /// (opened without following links), in byte order of the names.
    static func forEachChild(_ dirfd: Int32, _ name: String, _ body: (Int32, String) throws -> Void) throws {
        let fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw LayerError.system(call: "openat", path: name, errno: errno) }
        defer { close(fd) }
        for child in try listDirectory(fd, name) { try body(fd, child) }
    }

    /// Names in the open directory `fd` (without `.` and `..`), sorted by their bytes.
    static func listDirectory(_ fd: Int32, _ name: String) throws -> [String] {
        do {
            return try DirectoryListing.names(of: fd)
        } catch {
            throw LayerError.system(call: error.call, path: name, errno: error.errno)
        }
    }
}
