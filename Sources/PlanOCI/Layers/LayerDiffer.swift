#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Turns filesystem changes into a layer: a whole directory, the difference between a directory and
/// its base, or an overlayfs upper directory.
///
/// Output is deterministic: children are visited in byte order of their names, owner and group
/// names are left empty (no passwd lookups), PAX headers are named from the entry, and
/// `TarWriter.Options.fixedModificationTime` (set on the writer) replaces every mtime. Hard links
/// between files of the layer become hard link entries.
///
/// Change detection compares type, mode, owner, size, mtime (to the nanosecond), link target and
/// device number, as containers/storage's naive differ does; content is not read to find changes.
public struct LayerDiffer {
    /// Creates a differ.
    public init() {}

    /// Writes every entry under `directory` (not the directory itself) to `writer`. Does not finish it.
    public func writeDirectory(_ directory: String, to writer: TarWriter) throws {
        var run = DiffRun(writer: writer)
        try run.addChildren(full: directory, rel: "")
    }

    /// Writes the file or directory at `path` as the entry `name`, and everything below it.
    public func writeTree(_ path: String, as name: String, to writer: TarWriter) throws {
        var run = DiffRun(writer: writer)
        guard let info = try DiffRun.lstatPath(path) else { throw LayerError.system(call: "lstat", path: path, errno: ENOENT) }
        try run.addTree(full: path, rel: name, info: info)
    }

    /// Writes the changes that turn `base` into `changed`: new and modified entries, `.wh.NAME` for
    /// deletions, and an opaque directory (`.wh..wh..opq`) for a directory whose lower content was
    /// replaced as a whole (none of the base's children are left, and it has new ones).
    public func diff(base: String, changed: String, to writer: TarWriter) throws {
        var run = DiffRun(writer: writer)
        try run.diffDirectory(base: base, changed: changed, rel: "")
    }

    /// Converts an overlayfs upper directory: a 0/0 character device is a deletion (`.wh.NAME`), a
    /// directory with the xattr `trusted.overlay.opaque` (or `user.overlay.opaque`) set to `y` is
    /// opaque (`.wh..wh..opq`); everything else is written as is.
    public func overlayUpper(_ upper: String, to writer: TarWriter) throws {
        var run = DiffRun(writer: writer)
        try run.upperDirectory(full: upper, rel: "")
    }
}

/// One walk that writes entries.
private struct DiffRun {
    let writer: TarWriter
    /// (device, inode) of files with several links already written, and the path they went in as.
    var linked: [String: String] = [:]

    init(writer: TarWriter) { self.writer = writer }

    static func join(_ a: String, _ b: String) -> String { a.isEmpty ? b : a + "/" + b }

    static func lstatPath(_ path: String) throws -> stat? {
        var info = stat()
        if lstat(path, &info) == 0 { return info }
        if errno == ENOENT { return nil }
        throw LayerError.system(call: "lstat", path: path, errno: errno)
    }

    static func children(_ path: String) throws -> [String] {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw LayerError.system(call: "open", path: path, errno: errno) }
        defer { close(fd) }
        return try RootDirectory.listDirectory(fd, path)
    }

    static func isDirectory(_ info: stat) -> Bool { info.st_mode & S_IFMT == S_IFDIR }

    /// The tar entry describing the file `full` (stored as `rel`).
    static func entry(_ info: stat, full: String, rel: String) throws -> TarEntry {
        var entry = TarEntry(path: rel, kind: .regular)
        switch info.st_mode & S_IFMT {
        case S_IFREG: entry.kind = .regular; entry.size = Int64(info.st_size)
        case S_IFDIR: entry.kind = .directory
        case S_IFLNK:
            entry.kind = .symlink
            entry.linkTarget = try RootDirectory.readLink(AT_FDCWD, full)
        case S_IFCHR: entry.kind = .characterDevice
        case S_IFBLK: entry.kind = .blockDevice
        case S_IFIFO: entry.kind = .fifo
        default: throw LayerError.system(call: "lstat (socket or unknown type)", path: full, errno: EINVAL)
        }
        if entry.kind == .characterDevice || entry.kind == .blockDevice {
            let rdev = UInt64(info.st_rdev)
            entry.deviceMajor = UInt32(truncatingIfNeeded: ((rdev >> 8) & 0xfff) | ((rdev >> 32) & ~UInt64(0xfff)))
            entry.deviceMinor = UInt32(truncatingIfNeeded: (rdev & 0xff) | ((rdev >> 12) & ~UInt64(0xff)))
        }
        entry.mode = UInt32(info.st_mode) & 0o7777
        entry.uid = Int64(info.st_uid)
        entry.gid = Int64(info.st_gid)
        entry.modificationTime = Int64(info.st_mtim.tv_sec)
        entry.modificationNanoseconds = UInt32(truncatingIfNeeded: info.st_mtim.tv_nsec)
        return entry
    }

    /// Writes one filesystem object (not its children).
    mutating func add(full: String, rel: String, info: stat) throws {
        var entry = try Self.entry(info, full: full, rel: rel)
        if entry.kind == .regular && info.st_nlink > 1 {
            let key = "\(info.st_dev):\(info.st_ino)"
            if let first = linked[key] {
                entry.kind = .hardLink
                entry.linkTarget = first
                entry.size = 0
                try writer.append(entry)
                return
            }
            linked[key] = rel
        }
        try writer.append(entry)
        guard entry.kind == .regular, entry.size > 0 else { return }
        let fd = open(full, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw LayerError.system(call: "open", path: full, errno: errno) }
        defer { close(fd) }
        var left = entry.size
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { chunk.deallocate() }
        while left > 0 {
            guard let base = chunk.baseAddress else { break }
            let n = read(fd, base, Int(min(Int64(chunk.count), left)))
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                // The file shrank while being read.
                throw LayerError.sizeMismatch(entry: rel, declared: entry.size, actual: entry.size - left)
            }
            try writer.writeContent(UnsafeRawBufferPointer(rebasing: chunk[0..<n]))
            left -= Int64(n)
        }
    }

    /// Writes an object and, for a directory, everything below it.
    mutating func addTree(full: String, rel: String, info: stat) throws {
        try add(full: full, rel: rel, info: info)
        if Self.isDirectory(info) { try addChildren(full: full, rel: rel) }
    }

    mutating func addChildren(full: String, rel: String) throws {
        for name in try Self.children(full) {
            let childFull = full + "/" + name
            guard let info = try Self.lstatPath(childFull) else { continue }
            try addTree(full: childFull, rel: Self.join(rel, name), info: info)
        }
    }

    static func sameMetadata(_ a: stat, _ b: stat, _ aPath: String, _ bPath: String) throws -> Bool {
        guard a.st_mode == b.st_mode, a.st_uid == b.st_uid, a.st_gid == b.st_gid else { return false }
        if isDirectory(a) { return a.st_mtim.tv_sec == b.st_mtim.tv_sec && a.st_mtim.tv_nsec == b.st_mtim.tv_nsec }
        guard a.st_size == b.st_size, a.st_mtim.tv_sec == b.st_mtim.tv_sec, a.st_mtim.tv_nsec == b.st_mtim.tv_nsec
        else { return false }
        switch a.st_mode & S_IFMT {
        case S_IFLNK: return try RootDirectory.readLink(AT_FDCWD, aPath) == RootDirectory.readLink(AT_FDCWD, bPath)
        case S_IFCHR, S_IFBLK: return a.st_rdev == b.st_rdev
        default: return true
        }
    }

    mutating func whiteout(_ rel: String, name: String) throws {
        try writer.append(TarEntry(path: Self.join(rel, ".wh." + name), kind: .regular, mode: 0o644))
    }

    mutating func diffDirectory(base: String, changed: String, rel: String) throws {
        let baseNames = try Self.children(base)
        let changedNames = try Self.children(changed)
        let baseSet = Set(baseNames)
        let changedSet = Set(changedNames)
        if !rel.isEmpty, !baseNames.isEmpty, !changedNames.isEmpty, baseNames.allSatisfy({ !changedSet.contains($0) }) {
            try writer.append(TarEntry(path: Self.join(rel, ".wh..wh..opq"), kind: .regular, mode: 0o644))
            try addChildren(full: changed, rel: rel)
            return
        }
        let all = baseSet.union(changedSet).sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
        for name in all {
            let childRel = Self.join(rel, name)
            let b = base + "/" + name
            let c = changed + "/" + name
            guard let changedInfo = try Self.lstatPath(c) else {
                try whiteout(rel, name: name)
                continue
            }
            guard let baseInfo = try Self.lstatPath(b) else {
                try addTree(full: c, rel: childRel, info: changedInfo)
                continue
            }
            if Self.isDirectory(changedInfo) && Self.isDirectory(baseInfo) {
                if try !Self.sameMetadata(baseInfo, changedInfo, b, c) { try add(full: c, rel: childRel, info: changedInfo) }
                try diffDirectory(base: b, changed: c, rel: childRel)
            } else if try !Self.sameMetadata(baseInfo, changedInfo, b, c) {
                // A new object of another type replaces the old one (the applier removes it first).
                try addTree(full: c, rel: childRel, info: changedInfo)
            }
        }
    }

    mutating func upperDirectory(full: String, rel: String) throws {
        for name in try Self.children(full) {
            let childFull = full + "/" + name
            let childRel = Self.join(rel, name)
            guard let info = try Self.lstatPath(childFull) else { continue }
            if info.st_mode & S_IFMT == S_IFCHR && info.st_rdev == 0 {
                try whiteout(rel, name: name)
                continue
            }
            try add(full: childFull, rel: childRel, info: info)
            if Self.isDirectory(info) {
                if try Self.isOpaque(childFull) {
                    try writer.append(TarEntry(path: Self.join(childRel, ".wh..wh..opq"), kind: .regular, mode: 0o644))
                }
                try upperDirectory(full: childFull, rel: childRel)
            }
        }
    }

    typealias LGetXattr = @convention(c) (UnsafePointer<CChar>, UnsafePointer<CChar>, UnsafeMutableRawPointer?, Int) -> Int

    /// glibc's `lgetxattr`, which the Glibc module does not export (sys/xattr.h is not in it).
    static let lgetxattrFunction: LGetXattr? = {
        guard let handle = dlopen(nil, RTLD_NOW), let symbol = dlsym(handle, "lgetxattr") else { return nil }
        return unsafeBitCast(symbol, to: LGetXattr.self)
    }()

    /// Whether overlayfs marks the directory opaque (`trusted.` as root, `user.` for userxattr mounts).
    static func isOpaque(_ path: String) throws -> Bool {
        for name in ["trusted.overlay.opaque", "user.overlay.opaque"] {
            var value = [UInt8](repeating: 0, count: 8)
            guard let lgetxattr = Self.lgetxattrFunction else {
                throw LayerError.system(call: "dlsym lgetxattr", path: path, errno: ENOSYS)
            }
            let n = value.withUnsafeMutableBytes { lgetxattr(path, name, $0.baseAddress, $0.count) }
            if n == 1 && value[0] == UInt8(ascii: "y") { return true }
            if n < 0 && errno != ENODATA && errno != ENOTSUP && errno != ERANGE {
                throw LayerError.system(call: "lgetxattr", path: path, errno: errno)
            }
        }
        return false
    }
}
