#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Applies a layer (a tar stream) to a directory, as a container runtime unpacks an image.
///
/// - Entries: regular files, directories, symbolic links, hard links, character and block devices,
///   FIFOs. Modes keep setuid, setgid and sticky bits. Ownership is set (with `lchown` semantics)
///   when `Options.preserveOwnership` is on, by default when running as root. Modification times are
///   set on everything, symbolic links included; directories get theirs (and their modes) at the
///   end, after their contents are written.
/// - Devices are created only with privilege: without root (or when `mknod` is refused with EPERM,
///   as in a user namespace) a device entry is skipped and a warning is recorded in the report.
///   FIFOs need no privilege and are always created.
/// - OCI whiteouts: `.wh.NAME` removes `NAME` of the lower layers; `.wh..wh..opq` empties its
///   directory of lower-layer content but keeps what this same layer puts there, whatever the order
///   of the entries in the tar.
/// - Safety: every path is resolved by `RootDirectory` inside the target. Absolute names are taken
///   relative to the target; a name with a `..` component is refused (`LayerError.pathEscapesRoot`);
///   symbolic links in the path are resolved inside the target (never followed out of it); a hard
///   link's target is resolved the same way and must exist inside the target.
public struct LayerApplier {
    /// Settings for applying a layer.
    public struct Options: Sendable {
        /// Set files' owners from the entries (needs root). Default: on when running as root.
        public var preserveOwnership: Bool
        /// Create device nodes. Default: on when running as root.
        public var createDevices: Bool
        /// Keep whiteouts as overlayfs marks (a 0/0 character device for `.wh.NAME`, the xattr
        /// `trusted.overlay.opaque=y` for `.wh..wh..opq`) instead of applying them, so that the
        /// directory can serve as an overlayfs lower layer. Needs root.
        public var overlayWhiteouts: Bool

        /// Creates options; the defaults depend on whether the process runs as root.
        public init(preserveOwnership: Bool? = nil, createDevices: Bool? = nil, overlayWhiteouts: Bool = false) {
            let root = geteuid() == 0
            self.preserveOwnership = preserveOwnership ?? root
            self.createDevices = createDevices ?? root
            self.overlayWhiteouts = overlayWhiteouts
        }
    }

    /// What an application did.
    public struct Report: Sendable, Equatable {
        /// Entries read from the layer (whiteouts included).
        public var entries = 0
        /// Things skipped on purpose, each naming its entry (device nodes without privilege, ...).
        public var warnings: [String] = []
    }

    public var options: Options

    /// Creates an applier.
    public init(options: Options = Options()) { self.options = options }

    /// Applies the layer file at `layerPath` (gzip or plain tar) to `directory`.
    @discardableResult
    public func apply(layerAt layerPath: String, to directory: String) throws -> Report {
        try apply(TarReader(try LayerSource.open(path: layerPath)), to: directory)
    }

    /// Applies the entries of `reader` to `directory`, which must exist.
    @discardableResult
    public func apply(_ reader: TarReader, to directory: String) throws -> Report {
        var run = try ApplyRun(root: RootDirectory(path: directory), options: options)
        defer { run.closeCache() }
        while let entry = try reader.next() {
            try run.apply(entry, reader: reader)
        }
        try run.finishDirectories()
        return run.report
    }
}

extension LayerApplier {
    /// Reads a whole layer without writing anything and throws what applying it would refuse on
    /// its names alone: a path or hard-link target that climbs out with `..`, a whiteout of `.` or
    /// `..`, an unreadable tar. Used to refuse a layer before it is stored (a cache import), so
    /// that it cannot fail every later build that would unpack it.
    public static func validate(_ reader: TarReader) throws {
        while let entry = try reader.next() {
            let parts = try RootDirectory.components(of: entry.path, entry: entry.path)
            if parts.isEmpty && entry.kind != .directory { throw LayerError.invalidName(entry.path) }
            if let name = parts.last, name.hasPrefix(".wh."), !name.hasPrefix(".wh..wh.") {
                let victim = name.dropFirst(".wh.".count)
                guard !victim.isEmpty, victim != ".", victim != ".." else { throw LayerError.invalidName(entry.path) }
            }
            if entry.kind == .hardLink {
                let target = try RootDirectory.components(of: entry.linkTarget, entry: entry.path)
                if target.isEmpty { throw LayerError.hardLinkTargetMissing(entry: entry.path, target: entry.linkTarget) }
            }
        }
    }
}

/// The state of one layer application.
private struct ApplyRun {
    let root: RootDirectory
    let options: LayerApplier.Options
    var report = LayerApplier.Report()
    /// Paths (and their ancestors) this layer wrote, as normalised component strings.
    var layerPaths: Set<String> = [""]
    /// Directory entries whose mode, owner and times are set at the end.
    var directories: [([String], TarEntry)] = []
    var cachedKey: String?
    var cachedDescriptor: Int32 = -1

    init(root: RootDirectory, options: LayerApplier.Options) {
        self.root = root
        self.options = options
    }

    mutating func closeCache() {
        if cachedDescriptor >= 0 { close(cachedDescriptor) }
        cachedDescriptor = -1
        cachedKey = nil
    }

    /// The parent directory of an entry, opened inside the root (cached for runs of files).
    mutating func parent(_ components: ArraySlice<String>, entry: String, create: Bool) throws -> Int32? {
        let key = components.joined(separator: "/")
        if key == cachedKey { return cachedDescriptor }
        closeCache()
        guard let fd = try root.openDirectory(Array(components), entry: entry, create: create) else { return nil }
        cachedKey = key
        cachedDescriptor = fd
        return fd
    }

    mutating func apply(_ entry: TarEntry, reader: TarReader) throws {
        report.entries += 1
        let parts = try RootDirectory.components(of: entry.path, entry: entry.path)
        let joined = parts.joined(separator: "/")
        // Anything but a run of regular files may change what paths resolve to.
        if entry.kind != .regular { closeCache() }
        if let key = cachedKey, key == joined || key.hasPrefix(joined + "/") { closeCache() }

        guard let name = parts.last else {
            guard entry.kind == .directory else { throw LayerError.invalidName(entry.path) }
            directories.append(([], entry))
            return
        }
        let parentParts = parts.dropLast()

        if name.hasPrefix(".wh.") {
            closeCache()
            try whiteout(name: name, parentParts: parentParts, entry: entry)
            return
        }
        var prefix = ""
        for part in parts {
            prefix = prefix.isEmpty ? part : prefix + "/" + part
            layerPaths.insert(prefix)
        }

        guard let dirfd = try parent(parentParts, entry: entry.path, create: true) else {
            throw LayerError.notADirectory(entry: entry.path)
        }
        // Replace whatever is there, except a directory by a directory.
        if let existing = try RootDirectory.lstatAt(dirfd, name) {
            let isDirectory = existing.st_mode & S_IFMT == S_IFDIR
            if !(isDirectory && entry.kind == .directory) {
                if entry.kind == .hardLink, try isSameFile(existing, linkTarget: entry.linkTarget, entry: entry.path) {
                    return
                }
                try RootDirectory.removeTree(dirfd, name)
            }
        }
        switch entry.kind {
        case .regular:
            try writeFile(entry, dirfd: dirfd, name: name, reader: reader)
        case .directory:
            if mkdirat(dirfd, name, 0o700) != 0 && errno != EEXIST {
                throw LayerError.system(call: "mkdirat", path: entry.path, errno: errno)
            }
            directories.append((parts, entry))
        case .symlink:
            guard symlinkat(entry.linkTarget, dirfd, name) == 0 else {
                throw LayerError.system(call: "symlinkat", path: entry.path, errno: errno)
            }
            try setMetadata(entry, dirfd: dirfd, name: name, isLink: true)
        case .hardLink:
            try hardLink(entry, dirfd: dirfd, name: name)
        case .fifo:
            guard mkfifoat(dirfd, name, 0o600) == 0 else {
                throw LayerError.system(call: "mkfifoat", path: entry.path, errno: errno)
            }
            try setMetadata(entry, dirfd: dirfd, name: name, isLink: false)
        case .characterDevice, .blockDevice:
            guard options.createDevices else {
                report.warnings.append("\(entry.path): device node skipped (not running as root)")
                return
            }
            let type = entry.kind == .characterDevice ? S_IFCHR : S_IFBLK
            if mknodat(dirfd, name, type | 0o600, Self.device(entry.deviceMajor, entry.deviceMinor)) != 0 {
                if errno == EPERM {
                    report.warnings.append("\(entry.path): device node skipped (mknod not permitted)")
                    return
                }
                throw LayerError.system(call: "mknodat", path: entry.path, errno: errno)
            }
            try setMetadata(entry, dirfd: dirfd, name: name, isLink: false)
        }
    }

    static func device(_ major: UInt32, _ minor: UInt32) -> dev_t {
        let mj = UInt64(major), mn = UInt64(minor)
        return dev_t((mj & 0xffff_f000) << 32 | (mj & 0xfff) << 8 | (mn & 0xffff_ff00) << 12 | (mn & 0xff))
    }

    private func writeFile(_ entry: TarEntry, dirfd: Int32, name: String, reader: TarReader) throws {
        let fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw LayerError.system(call: "openat", path: entry.path, errno: errno) }
        defer { close(fd) }
        try reader.readContent { chunk in try PosixIO.writeAll(fd, chunk, path: entry.path) }
        try setMetadata(entry, fd: fd)
    }

    /// Owner, then mode (a chown clears setuid), then times, on an open file.
    private func setMetadata(_ entry: TarEntry, fd: Int32) throws {
        if options.preserveOwnership {
            guard fchown(fd, uid_t(truncatingIfNeeded: entry.uid), gid_t(truncatingIfNeeded: entry.gid)) == 0 else {
                throw LayerError.system(call: "fchown", path: entry.path, errno: errno)
            }
        }
        guard fchmod(fd, mode_t(entry.mode & 0o7777)) == 0 else {
            throw LayerError.system(call: "fchmod", path: entry.path, errno: errno)
        }
        var times = Self.times(entry)
        guard futimens(fd, &times) == 0 else { throw LayerError.system(call: "futimens", path: entry.path, errno: errno) }
    }

    /// Metadata by name, not following a final symbolic link (links get owner and times only).
    private func setMetadata(_ entry: TarEntry, dirfd: Int32, name: String, isLink: Bool) throws {
        if options.preserveOwnership {
            guard fchownat(dirfd, name, uid_t(truncatingIfNeeded: entry.uid), gid_t(truncatingIfNeeded: entry.gid),
                           AT_SYMLINK_NOFOLLOW) == 0 else {
                throw LayerError.system(call: "lchown", path: entry.path, errno: errno)
            }
        }
        if !isLink {
            guard fchmodat(dirfd, name, mode_t(entry.mode & 0o7777), 0) == 0 else {
                throw LayerError.system(call: "fchmodat", path: entry.path, errno: errno)
            }
        }
        var times = Self.times(entry)
        guard utimensat(dirfd, name, &times, AT_SYMLINK_NOFOLLOW) == 0 else {
            throw LayerError.system(call: "utimensat", path: entry.path, errno: errno)
        }
    }

    static func times(_ entry: TarEntry) -> [timespec] {
        let t = timespec(tv_sec: Int(entry.modificationTime), tv_nsec: Int(entry.modificationNanoseconds))
        return [t, t]
    }

    private mutating func hardLink(_ entry: TarEntry, dirfd: Int32, name: String) throws {
        let targetParts = try RootDirectory.components(of: entry.linkTarget, entry: entry.path)
        guard let targetName = targetParts.last,
              let targetDir = try root.openDirectory(Array(targetParts.dropLast()), entry: entry.path, create: false)
        else { throw LayerError.hardLinkTargetMissing(entry: entry.path, target: entry.linkTarget) }
        defer { close(targetDir) }
        guard let info = try RootDirectory.lstatAt(targetDir, targetName), info.st_mode & S_IFMT != S_IFDIR else {
            throw LayerError.hardLinkTargetMissing(entry: entry.path, target: entry.linkTarget)
        }
        guard linkat(targetDir, targetName, dirfd, name, 0) == 0 else {
            throw LayerError.system(call: "linkat", path: entry.path, errno: errno)
        }
    }

    /// True when a hard link entry points at the very file already at its own path.
    private func isSameFile(_ existing: stat, linkTarget: String, entry: String) throws -> Bool {
        let parts = try RootDirectory.components(of: linkTarget, entry: entry)
        guard let last = parts.last,
              let dir = try root.openDirectory(Array(parts.dropLast()), entry: entry, create: false) else { return false }
        defer { close(dir) }
        guard let target = try RootDirectory.lstatAt(dir, last) else { return false }
        return target.st_ino == existing.st_ino && target.st_dev == existing.st_dev
    }

    private mutating func whiteout(name: String, parentParts: ArraySlice<String>, entry: TarEntry) throws {
        let parentKey = parentParts.joined(separator: "/")
        guard let dirfd = try root.openDirectory(Array(parentParts), entry: entry.path, create: options.overlayWhiteouts)
        else { return }
        defer { close(dirfd) }
        if options.overlayWhiteouts {
            try Self.markOverlayWhiteout(name: name, dirfd: dirfd, entry: entry.path)
            return
        }
        if name == ".wh..wh..opq" {
            try clearLower(dirfd, key: parentKey)
            return
        }
        if name.hasPrefix(".wh..wh.") {
            report.warnings.append("\(entry.path): unknown whiteout metadata ignored")
            return
        }
        let victim = String(name.dropFirst(".wh.".count))
        guard !victim.isEmpty, victim != ".", victim != ".." else { throw LayerError.invalidName(entry.path) }
        let victimKey = parentKey.isEmpty ? victim : parentKey + "/" + victim
        // A whiteout hides lower layers only, never what this layer itself adds.
        if layerPaths.contains(victimKey) { return }
        try RootDirectory.removeTree(dirfd, victim)
    }

    typealias FSetXattr = @convention(c) (Int32, UnsafePointer<CChar>, UnsafeRawPointer?, Int, Int32) -> Int32

    /// glibc's `fsetxattr`, which the Glibc module does not export (sys/xattr.h is not in it).
    static let fsetxattrFunction: FSetXattr? = {
        guard let handle = dlopen(nil, RTLD_NOW), let symbol = dlsym(handle, "fsetxattr") else { return nil }
        return unsafeBitCast(symbol, to: FSetXattr.self)
    }()

    /// Writes a whiteout the way overlayfs stores it in an upper or lower directory.
    private static func markOverlayWhiteout(name: String, dirfd: Int32, entry: String) throws {
        if name == ".wh..wh..opq" {
            guard let fsetxattr = fsetxattrFunction else { throw LayerError.system(call: "dlsym fsetxattr", path: entry, errno: ENOSYS) }
            let value: [UInt8] = [UInt8(ascii: "y")]
            let status = value.withUnsafeBytes { fsetxattr(dirfd, "trusted.overlay.opaque", $0.baseAddress, 1, 0) }
            guard status == 0 else { throw LayerError.system(call: "fsetxattr", path: entry, errno: errno) }
            return
        }
        let victim = String(name.dropFirst(".wh.".count))
        if victim.hasPrefix(".wh.") { return }  // other aufs metadata: nothing for overlayfs
        guard !victim.isEmpty, victim != ".", victim != ".." else { throw LayerError.invalidName(entry) }
        _ = unlinkat(dirfd, victim, 0)
        guard mknodat(dirfd, victim, S_IFCHR | 0o000, 0) == 0 else {
            throw LayerError.system(call: "mknodat", path: entry, errno: errno)
        }
    }

    /// Removes everything in the directory `dirfd` that this layer did not write.
    private func clearLower(_ dirfd: Int32, key: String) throws {
        for child in try RootDirectory.listDirectory(dirfd, key) {
            let childKey = key.isEmpty ? child : key + "/" + child
            if layerPaths.contains(childKey) {
                if let info = try RootDirectory.lstatAt(dirfd, child), info.st_mode & S_IFMT == S_IFDIR {
                    let fd = openat(dirfd, child, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                    guard fd >= 0 else { throw LayerError.system(call: "openat", path: childKey, errno: errno) }
                    defer { close(fd) }
                    try clearLower(fd, key: childKey)
                }
            } else {
                try RootDirectory.removeTree(dirfd, child)
            }
        }
    }

    /// Sets directories' owners, modes and times, deepest first, once their contents are written.
    mutating func finishDirectories() throws {
        closeCache()
        for (parts, entry) in directories.reversed() {
            if let name = parts.last {
                guard let dirfd = try root.openDirectory(Array(parts.dropLast()), entry: entry.path, create: false) else { continue }
                defer { close(dirfd) }
                let fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                // Replaced by a later entry of this layer: nothing to set.
                if fd < 0 { continue }
                defer { close(fd) }
                try setMetadata(entry, fd: fd)
            } else {
                try setMetadata(entry, fd: root.descriptor)
            }
        }
    }
}
