import Foundation

/// Mount points a sandbox has to make in a root filesystem (and removes again, so they never reach
/// a layer). Made and removed through a `RootedDirectory`: a link in the root — planted by the base
/// image, or repointed by the step while it runs — leads inside the root, never to a host folder.
struct MountPointStubs {
    let root: RootedDirectory
    /// What was made, deepest first: the path inside the root and the entry's identity, so clean-up
    /// removes only that entry, and only when it is still empty.
    private(set) var created: [(path: String, device: UInt64, inode: UInt64)] = []
    /// The request's mounts with their targets resolved inside the root (links followed there), so
    /// the mounts land on the entries made here.
    private(set) var mounts: [SandboxMount] = []

    /// Makes `/proc`, `/dev` and every mount's target (a folder or an empty file, like its source) when missing.
    init(_ request: SandboxRequest) throws {
        do {
            root = try RootedDirectory(request.rootfs)
        } catch {
            throw SandboxError.cannotStart("cannot open the root filesystem \(error)")
        }
        try ensure("/proc", directory: true)
        try ensure("/dev", directory: true)
        for mount in request.mounts {
            var isDirectory: ObjCBool = false
            _ = FileManager.default.fileExists(atPath: mount.source, isDirectory: &isDirectory)
            var resolved = mount
            resolved.target = try ensure(mount.target, directory: isDirectory.boolValue || mount.kind != .bind)
            mounts.append(resolved)
        }
        created.reverse()
    }

    /// Makes `path` (and its missing parents) unless it exists; returns its resolved path.
    @discardableResult
    private mutating func ensure(_ path: String, directory: Bool) throws -> String {
        let target = root.resolve(path)
        if root.status(target) != nil { return target }
        guard let (parent, _) = RootedDirectory.split(target) else { return target }
        try ensure(parent, directory: true)
        do {
            let identity = try root.withParent(of: target) { fd, name -> stat in
                if directory {
                    guard mkdirat(fd, name, 0o755) == 0 else { throw RootedDirectory.Failure.errno(target) }
                } else {
                    let file = openat(fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644)
                    guard file >= 0 else { throw RootedDirectory.Failure.errno(target) }
                    close(file)
                }
                var info = stat()
                guard fstatat(fd, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else { throw RootedDirectory.Failure.errno(target) }
                return info
            }
            created.append((target, UInt64(identity.st_dev), UInt64(identity.st_ino)))
        } catch {
            throw SandboxError.cannotStart("cannot create mount point \(error)")
        }
        return target
    }

    /// Removes what `init` made: each entry only if it is still the one made (same device and inode)
    /// and empty, found through the root again whatever the step did to the links on the way.
    func remove() {
        for entry in created {
            _ = try? root.withParent(of: entry.path) { fd, name in
                var info = stat()
                guard fstatat(fd, name, &info, AT_SYMLINK_NOFOLLOW) == 0, UInt64(info.st_dev) == entry.device,
                      UInt64(info.st_ino) == entry.inode
                else { return }
                if info.st_mode & S_IFMT == S_IFDIR {
                    unlinkat(fd, name, AT_REMOVEDIR)  // fails, and keeps it, when the step left files in it
                } else if info.st_mode & S_IFMT == S_IFREG, info.st_size == 0 {
                    unlinkat(fd, name, 0)
                }
            }
        }
    }
}
