import CPlanSys
import Foundation
import PlanOCI

/// A folder whose paths the kernel resolves inside it: every lookup is an `openat2` from the folder's
/// descriptor with `RESOLVE_IN_ROOT` (a root filesystem: absolute links and `..` stop at the folder,
/// as in the container) or `RESOLVE_BENEATH` (the build context: a path that would leave the folder
/// fails), never through `/proc` magic links. Entries are made, changed and removed with the `*at`
/// calls on the descriptor of their (so resolved) parent folder and never follow a link in the last
/// component, so no symbolic link a step, a base image or a context plants can lead a host-side
/// file operation outside the folder. Needs Linux 5.6 (openat2); older kernels fail closed.
final class RootedDirectory: Sendable {
    let oPath = Int32(PLAN_O_PATH)

    enum Scope: Sendable {
        /// Paths resolve as the container sees them: inside the folder.
        case inRoot
        /// Paths must stay beneath the folder; one that would leave it is an error.
        case beneath
    }

    /// Why a rooted operation failed, naming the path (inside the folder) and the reason.
    struct Failure: Error, CustomStringConvertible {
        var path: String
        var reason: String
        var code: Int32 = 0

        var description: String { "\(path): \(reason)" }

        static func errno(_ path: String, _ code: Int32 = Foundation.errno) -> Failure {
            switch code {
            case ENOSYS:
                Failure(path: path, reason: "this kernel has no openat2 (Linux 5.6 or later is needed to work on root filesystems safely)",
                        code: code)
            case EXDEV:
                Failure(path: path, reason: "leaves its folder through a symbolic link", code: code)
            case ELOOP:
                Failure(path: path, reason: "too many levels of symbolic links", code: code)
            default:
                Failure(path: path, reason: String(cString: strerror(code)), code: code)
            }
        }
    }

    /// The folder on the host.
    let path: String
    let scope: Scope
    let descriptor: Int32

    init(_ path: String, scope: Scope = .inRoot) throws(Failure) {
        self.path = path
        self.scope = scope
        descriptor = Foundation.open(path, Int32(PLAN_O_PATH) | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { throw .errno(path) }
    }

    deinit { close(descriptor) }

    var resolveFlags: UInt64 {
        UInt64(PLAN_RESOLVE_NO_MAGICLINKS) | UInt64(scope == .inRoot ? PLAN_RESOLVE_IN_ROOT : PLAN_RESOLVE_BENEATH)
    }

    /// `path` relative to the folder (`/a/b`, `a/b` and `a/b/` name the same entry; `""` and `/` the folder).
    static func relative(_ path: String) -> String {
        let parts = path.split(separator: "/").filter { $0 != "." }
        return parts.isEmpty ? "." : parts.joined(separator: "/")
    }

    /// The last component and the path of its parent folder; nil for the folder itself.
    static func split(_ path: String) -> (parent: String, name: String)? {
        var parts = path.split(separator: "/").filter { $0 != "." }.map(String.init)
        guard let name = parts.popLast(), name != ".." else { return nil }
        return (parts.isEmpty ? "." : parts.joined(separator: "/"), name)
    }

    /// Opens `path` inside the folder; the caller closes the descriptor. With `O_NOFOLLOW` a link in
    /// the last component is not followed (with `O_PATH` the link itself is opened).
    func open(_ path: String, _ flags: Int32, mode: mode_t = 0) throws(Failure) -> Int32 {
        let fd = plan_openat2(descriptor, Self.relative(path), UInt64(UInt32(bitPattern: flags | O_CLOEXEC)), UInt64(mode),
                              resolveFlags)
        guard fd >= 0 else { throw .errno(path) }
        return fd
    }

    /// Runs `body` with the descriptor of `path`'s parent folder (resolved inside) and its last component.
    func withParent<T>(of path: String, _ body: (Int32, String) throws -> T) throws -> T {
        guard let (parent, name) = Self.split(path) else {
            throw Failure(path: path, reason: "is the root folder itself")
        }
        let fd = try open(parent, oPath | O_DIRECTORY)
        defer { close(fd) }
        return try body(fd, name)
    }

    /// The entry's status without following a link in the last component; nil when it does not exist.
    func status(_ path: String) -> stat? {
        var info = stat()
        if Self.split(path) == nil {
            return fstat(descriptor, &info) == 0 ? info : nil
        }
        return try? withParent(of: path) { fd, name in fstatat(fd, name, &info, AT_SYMLINK_NOFOLLOW) == 0 ? info : nil }
    }

    /// The target of the link at `path`, or nil when it is not a link.
    func linkTarget(_ path: String) -> String? {
        try? withParent(of: path) { fd, name in Self.readLink(fd, name) }
    }

    static func readLink(_ fd: Int32, _ name: String) -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = readlinkat(fd, name, &buffer, buffer.count - 1)
        guard count >= 0 else { return nil }
        return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The path inside the folder that `path` names as the container sees it, links followed (within
    /// the folder; not in the last component unless `followLast`). Components that do not exist are
    /// kept as they are, so the result is also where a missing entry would be made.
    func resolve(_ path: String, followLast: Bool = true) -> String {
        var resolved: [String] = []
        var pending = path.split(separator: "/").map(String.init)
        var hops = 0
        while !pending.isEmpty {
            let part = pending.removeFirst()
            if part == "." || part.isEmpty { continue }
            if part == ".." {
                if !resolved.isEmpty { resolved.removeLast() }
                continue
            }
            let candidate = (resolved + [part]).joined(separator: "/")
            if pending.isEmpty && !followLast {
                resolved.append(part)
                break
            }
            if hops < 40, let target = linkTarget(candidate) {
                hops += 1
                if target.hasPrefix("/") { resolved = [] }
                pending = target.split(separator: "/").map(String.init) + pending
                continue
            }
            resolved.append(part)
        }
        return "/" + resolved.joined(separator: "/")
    }

    /// Whether `path` (links followed inside the folder) is a folder.
    func isDirectory(_ path: String) -> Bool {
        guard let fd = try? open(path, oPath | O_DIRECTORY) else { return false }
        close(fd)
        return true
    }

    /// Makes `path` and its missing parents (links followed inside the folder), each owned by `owner`
    /// when given; returns the resolved path of the folder.
    @discardableResult
    func makeDirectories(_ path: String, mode: mode_t = 0o755, owner: (uid: UInt32, gid: UInt32)? = nil) throws(Failure) -> String {
        let target = resolve(path)
        if isDirectory(target) { return target }
        guard let (parent, _) = Self.split(target) else { return target }
        try makeDirectories(parent, mode: mode, owner: owner)
        let code: Int32
        do {
            code = try withParent(of: target) { fd, name -> Int32 in
                if mkdirat(fd, name, mode) != 0 {
                    guard errno == EEXIST else { return errno }
                    var info = stat()
                    guard fstatat(fd, name, &info, AT_SYMLINK_NOFOLLOW) == 0, info.st_mode & S_IFMT == S_IFDIR else {
                        return ENOTDIR
                    }
                    return 0
                }
                if let owner { _ = fchownat(fd, name, owner.uid, owner.gid, AT_SYMLINK_NOFOLLOW) }
                return 0
            }
        } catch let failure as Failure {
            throw failure
        } catch {
            throw Failure(path: target, reason: "\(error)")
        }
        if code == ENOTDIR { throw Failure(path: target, reason: "exists and is not a folder", code: code) }
        if code != 0 { throw .errno(target, code) }
        return target
    }

    /// Reads a regular file (links followed inside the folder) of at most `limit` bytes; nil when it
    /// is missing, not a regular file, larger, or leaves the folder.
    func readFile(_ path: String, limit: Int = 1 << 24) -> Data? {
        guard let fd = try? open(path, O_RDONLY | O_NONBLOCK) else { return nil }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG, Int(info.st_size) <= limit else { return nil }
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while data.count <= limit {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 { return nil }
            if count == 0 { return data }
            data.append(contentsOf: buffer[0..<count])
        }
        return nil
    }

    /// The paths inside the folder (relative, sorted) that the shell glob `pattern` matches, as
    /// glob(3) would match them (`*`, `?`, `[…]`; a leading `.` only matched explicitly), with every
    /// folder listed through the rooted lookup: beneath the context a folder reached through a link
    /// leading out is an error (EXDEV), inside a root it is that root's folder.
    func glob(_ pattern: String) throws(Failure) -> [String] {
        let parts = pattern.split(separator: "/").map(String.init).filter { $0 != "." }
        var paths = [""]
        for (index, part) in parts.enumerated() {
            let isLast = index == parts.count - 1
            var next: [String] = []
            for prefix in paths {
                let names: [String]
                if part.contains(where: { "*?[".contains($0) }) {
                    names = try list(prefix.isEmpty ? "." : prefix).filter { fnmatch(part, $0, FNM_PERIOD) == 0 }
                } else {
                    names = [part]
                }
                for name in names {
                    let candidate = prefix.isEmpty ? name : prefix + "/" + name
                    if isLast ? status(candidate) != nil : try isFolder(candidate) { next.append(candidate) }
                }
            }
            paths = next
        }
        return paths.filter { !$0.isEmpty }.sorted()
    }

    /// Whether `path` is a folder; a lookup that leaves the folder is an error, a missing one is not.
    private func isFolder(_ path: String) throws(Failure) -> Bool {
        do {
            close(try open(path, oPath | O_DIRECTORY))
            return true
        } catch where error.code == EXDEV || error.code == ELOOP || error.code == ENOSYS {
            throw error
        } catch {
            return false
        }
    }

    /// The names in the folder `path` (resolved inside), without `.` and `..`; none when it is missing.
    func list(_ path: String) throws(Failure) -> [String] {
        let fd: Int32
        do {
            fd = try open(path, O_RDONLY | O_DIRECTORY)
        } catch where error.code == EXDEV || error.code == ELOOP || error.code == ENOSYS {
            throw error
        } catch {
            return []
        }
        defer { close(fd) }
        return (try? DirectoryListing.names(of: fd)) ?? []
    }

    /// The host path of an open descriptor (of a folder inside this one), as the kernel names it.
    static func hostPath(of fd: Int32) -> String? {
        readLink(AT_FDCWD, "/proc/self/fd/\(fd)")
    }

    /// The host path of `path`, resolved inside the folder: for readers that take a path (the entry
    /// itself is not followed when it is a link and `followLast` is false).
    func hostPath(_ path: String, followLast: Bool = true) throws(Failure) -> String {
        if followLast || Self.split(path) == nil {
            let fd = try open(path, oPath)
            defer { close(fd) }
            guard let host = Self.hostPath(of: fd) else { throw .errno(path) }
            return host
        }
        guard let (parent, name) = Self.split(path) else { return self.path }
        return try hostPath(parent) + "/" + name
    }
}
