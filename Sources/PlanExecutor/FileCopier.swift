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
        let many = sources.count > 1
        let destinationIsDirectory = destination.hasSuffix("/") || many
        for source in sources {
            var info = stat()
            guard lstat(source.host, &info) == 0 else { throw Failure.io(source.host, "no such file") }
            if info.st_mode & S_IFMT == S_IFDIR {
                let target = ContainedPath.resolve(destination, in: root)
                try makeDirectories(target, root: root)
                try copyContents(of: source.host, relative: source.relative, into: target, root: root)
            } else {
                var target = ContainedPath.resolve(destination, in: root)
                var isDirectory: ObjCBool = false
                if destinationIsDirectory || (FileManager.default.fileExists(atPath: target, isDirectory: &isDirectory)
                                               && isDirectory.boolValue) {
                    try makeDirectories(target, root: root)
                    target = ContainedPath.resolve(destination + "/" + (source.host as NSString).lastPathComponent,
                                                   in: root, followLast: false)
                } else {
                    try makeDirectories((target as NSString).deletingLastPathComponent, root: root)
                }
                try copyEntry(source.host, to: target)
            }
        }
    }

    func makeDirectories(_ path: String, root: String) throws {
        guard path != root, !FileManager.default.fileExists(atPath: path) else { return }
        try makeDirectories((path as NSString).deletingLastPathComponent, root: root)
        guard mkdir(path, 0o755) == 0 || errno == EEXIST else { throw Failure.io(path, String(cString: strerror(errno))) }
        _ = lchown(path, owner.uid, owner.gid)
    }

    func copyContents(of directory: String, relative: String, into target: String, root: String) throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
        for name in names {
            let childRelative = relative == "." || relative.isEmpty ? name : relative + "/" + name
            if isExcluded(childRelative) { continue }
            let source = directory + "/" + name
            let destination = target + "/" + name
            var info = stat()
            guard lstat(source, &info) == 0 else { continue }
            if info.st_mode & S_IFMT == S_IFDIR {
                var existing = stat()
                if lstat(destination, &existing) != 0 {
                    guard mkdir(destination, info.st_mode & 0o7777) == 0 else {
                        throw Failure.io(destination, String(cString: strerror(errno)))
                    }
                }
                try copyContents(of: source, relative: childRelative, into: destination, root: root)
                try finish(destination, like: info)
            } else {
                try copyEntry(source, to: destination)
            }
        }
    }

    /// Copies one non-folder entry, replacing what is there.
    func copyEntry(_ source: String, to destination: String) throws {
        var info = stat()
        guard lstat(source, &info) == 0 else { throw Failure.io(source, "no such file") }
        var existing = stat()
        if lstat(destination, &existing) == 0, existing.st_mode & S_IFMT != S_IFDIR { unlink(destination) }
        switch info.st_mode & S_IFMT {
        case S_IFLNK:
            let target = try FileManager.default.destinationOfSymbolicLink(atPath: source)
            guard symlink(target, destination) == 0 else { throw Failure.io(destination, String(cString: strerror(errno))) }
            _ = lchown(destination, owner.uid, owner.gid)
            var times = [info.st_atim, info.st_mtim]
            _ = utimensat(AT_FDCWD, destination, &times, AT_SYMLINK_NOFOLLOW)
            return
        case S_IFREG:
            let input = open(source, O_RDONLY | O_CLOEXEC)
            guard input >= 0 else { throw Failure.io(source, String(cString: strerror(errno))) }
            defer { close(input) }
            let output = open(destination, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o600)
            guard output >= 0 else { throw Failure.io(destination, String(cString: strerror(errno))) }
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
        default:
            // Devices, fifos and sockets have no place in a build context.
            return
        }
        try finish(destination, like: info)
    }

    /// Without root, files keep the invoking user as owner (a run in a user namespace).
    static let canChangeOwners = getuid() == 0

    func finish(_ path: String, like info: stat) throws {
        if Self.canChangeOwners, lchown(path, owner.uid, owner.gid) != 0 {
            throw Failure.io(path, String(cString: strerror(errno)))
        }
        let permissions = mode ?? (info.st_mode & 0o7777)
        guard chmod(path, permissions) == 0 else { throw Failure.io(path, String(cString: strerror(errno))) }
        var times = [info.st_atim, info.st_mtim]
        _ = utimensat(AT_FDCWD, path, &times, AT_SYMLINK_NOFOLLOW)
    }
}
