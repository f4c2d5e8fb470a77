import Foundation

/// Copies files into a root filesystem with Docker's COPY rules: a folder's contents go into the
/// destination; a file goes into a destination that ends with `/` (or is a folder, or when there are
/// several sources) under its own name, and otherwise becomes the destination. Symbolic links are
/// copied as links, never followed out of their source root. Owners are set (root by default) and
/// modes kept unless `chmod` is given.
struct FileCopier {
    var owner: (uid: UInt32, gid: UInt32) = (0, 0)
    var mode: mode_t?
    /// Relative paths (from the source root of a context copy) to leave out.
    var isExcluded: (String) -> Bool = { _ in false }

    enum Failure: Error, CustomStringConvertible {
        case io(String, String)
        var description: String {
            switch self {
            case .io(let path, let why): "cannot copy \(path): \(why)"
            }
        }
    }

    /// Copies `sources` (host paths) to `destination` (a path in the container) inside `root`.
    func copy(_ sources: [(host: String, relative: String)], to destination: String, in root: String) throws {
        try copy(sources, to: destination, in: RootedDirectory(root))
    }

    /// Copies `sources` (host paths) to `destination` inside `root`: every entry is made through the
    /// rooted folder, so a link in the root filesystem never leads a write outside it.
    func copy(_ sources: [(host: String, relative: String)], to destination: String, in root: RootedDirectory) throws {
        let many = sources.count > 1
        let destinationIsDirectory = destination.hasSuffix("/") || many
        for source in sources {
            var info = stat()
            guard lstat(source.host, &info) == 0 else { throw Failure.io(source.host, "no such file") }
            if info.st_mode & S_IFMT == S_IFDIR {
                let target = try makeDirectories(destination, root: root)
                try copyContents(of: source.host, relative: source.relative, into: target, root: root)
            } else {
                var target = root.resolve(destination)
                if destinationIsDirectory || root.isDirectory(target) {
                    target = try makeDirectories(target, root: root)
                    target = root.resolve(target + "/" + (source.host as NSString).lastPathComponent, followLast: false)
                } else if let (parent, _) = RootedDirectory.split(target) {
                    try makeDirectories(parent, root: root)
                }
                try copyEntry(source.host, to: target, root: root)
            }
        }
    }

    /// Makes the folder `path` (links followed inside the root) and its missing parents; returns its resolved path.
    @discardableResult
    func makeDirectories(_ path: String, root: RootedDirectory) throws -> String {
        do {
            return try root.makeDirectories(path, owner: owner)
        } catch {
            throw Failure.io(error.path, error.reason)
        }
    }

    func copyContents(of directory: String, relative: String, into target: String, root: RootedDirectory) throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
        for name in names {
            let childRelative = relative == "." || relative.isEmpty ? name : relative + "/" + name
            if isExcluded(childRelative) { continue }
            let source = directory + "/" + name
            var destination = (target == "/" ? "" : target) + "/" + name
            var info = stat()
            guard lstat(source, &info) == 0 else { continue }
            if info.st_mode & S_IFMT == S_IFDIR {
                if let existing = root.status(destination) {
                    // A link to a folder is followed as the container would: inside the root.
                    if existing.st_mode & S_IFMT == S_IFLNK { destination = root.resolve(destination) }
                    if !root.isDirectory(destination) { try makeDirectories(destination, root: root) }
                } else {
                    try rooted(destination, root) { fd, name in mkdirat(fd, name, info.st_mode & 0o7777) == 0 ? 0 : errno }
                }
                try copyContents(of: source, relative: childRelative, into: destination, root: root)
                try finishDirectory(destination, like: info, root: root)
            } else {
                try copyEntry(source, to: destination, root: root)
            }
        }
    }

    /// Runs `body` on the parent folder of `path` (resolved inside the root) and the last component;
    /// `body` returns 0 or an errno.
    func rooted(_ path: String, _ root: RootedDirectory, _ body: (Int32, String) -> Int32) throws {
        let code: Int32
        do {
            code = try root.withParent(of: path, body)
        } catch let failure as RootedDirectory.Failure {
            throw Failure.io(failure.path, failure.reason)
        }
        if code != 0 { throw Failure.io(path, String(cString: strerror(code))) }
    }

    /// Copies one non-folder entry to `destination` (a path inside the root, its last component not
    /// followed), replacing what is there unless it is a folder.
    func copyEntry(_ source: String, to destination: String, root: RootedDirectory) throws {
        var info = stat()
        guard lstat(source, &info) == 0 else { throw Failure.io(source, "no such file") }
        switch info.st_mode & S_IFMT {
        case S_IFLNK:
            let target = try FileManager.default.destinationOfSymbolicLink(atPath: source)
            try rooted(destination, root) { fd, name in
                Self.removeNonFolder(fd, name)
                guard symlinkat(target, fd, name) == 0 else { return errno }
                if Self.canChangeOwners { _ = fchownat(fd, name, owner.uid, owner.gid, AT_SYMLINK_NOFOLLOW) }
                var times = [info.st_atim, info.st_mtim]
                _ = utimensat(fd, name, &times, AT_SYMLINK_NOFOLLOW)
                return 0
            }
        case S_IFREG:
            let input = open(source, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
            guard input >= 0 else { throw Failure.io(source, String(cString: strerror(errno))) }
            defer { close(input) }
            var output: Int32 = -1
            try rooted(destination, root) { fd, name in
                Self.removeNonFolder(fd, name)
                // O_EXCL: a link made in the meantime is never followed, a file never truncated in place.
                output = openat(fd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
                return output >= 0 ? 0 : errno
            }
            defer { close(output) }
            var buffer = [UInt8](repeating: 0, count: 1 << 16)
            while true {
                let count = buffer.withUnsafeMutableBytes { read(input, $0.baseAddress, $0.count) }
                if count < 0 { throw Failure.io(source, String(cString: strerror(errno))) }
                if count == 0 { break }
                var offset = 0
                while offset < count {
                    let written = buffer[offset..<count].withUnsafeBytes { write(output, $0.baseAddress, $0.count) }
                    if written <= 0 { throw Failure.io(destination, String(cString: strerror(errno))) }
                    offset += written
                }
            }
            try finish(output, destination, like: info)
        default:
            // Devices, fifos and sockets have no place in a build context.
            return
        }
    }

    /// Removes what is at `name` in `fd` unless it is a folder.
    static func removeNonFolder(_ fd: Int32, _ name: String) {
        var existing = stat()
        if fstatat(fd, name, &existing, AT_SYMLINK_NOFOLLOW) == 0, existing.st_mode & S_IFMT != S_IFDIR {
            unlinkat(fd, name, 0)
        }
    }

    /// Sets a copied folder's owner, mode and times through a descriptor opened without following links.
    func finishDirectory(_ path: String, like info: stat, root: RootedDirectory) throws {
        var directory: Int32 = -1
        try rooted(path, root) { fd, name in
            directory = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            return directory >= 0 ? 0 : errno
        }
        defer { close(directory) }
        try finish(directory, path, like: info)
    }

    /// Without root, files keep the invoking user as owner (a run in a user namespace). A probe of what
    /// this process may do, not a choice of sandbox: that is the caller's (`RunOptions.sandbox`).
    static let canChangeOwners = getuid() == 0

    /// Sets owner, mode and times on an open descriptor (`path` names it in errors).
    func finish(_ fd: Int32, _ path: String, like info: stat) throws {
        if Self.canChangeOwners, fchown(fd, owner.uid, owner.gid) != 0 {
            throw Failure.io(path, String(cString: strerror(errno)))
        }
        let permissions = mode ?? (info.st_mode & 0o7777)
        guard fchmod(fd, permissions) == 0 else { throw Failure.io(path, String(cString: strerror(errno))) }
        var times = [info.st_atim, info.st_mtim]
        _ = futimens(fd, &times)
    }
}
