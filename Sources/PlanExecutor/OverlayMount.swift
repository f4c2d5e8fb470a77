import Foundation

/// Mounts overlayfs through the new mount API (`fsopen`/`fsconfig`/`fsmount`/`move_mount`, Linux
/// 6.8+ for `lowerdir+`), which takes lower folders one at a time: no page-sized limit on the
/// options, so a stack can be as deep as overlayfs allows (500 layers).
enum OverlayMount {
    private typealias FsOpen = @convention(c) (UnsafePointer<CChar>, UInt32) -> Int32
    private typealias FsConfig = @convention(c) (Int32, UInt32, UnsafePointer<CChar>?, UnsafeRawPointer?, Int32) -> Int32
    private typealias FsMount = @convention(c) (Int32, UInt32, UInt32) -> Int32
    private typealias MoveMount = @convention(c) (Int32, UnsafePointer<CChar>, Int32, UnsafePointer<CChar>, UInt32) -> Int32

    private static let setString: UInt32 = 1  // FSCONFIG_SET_STRING
    private static let create: UInt32 = 6  // FSCONFIG_CMD_CREATE
    private static let emptyPath: UInt32 = 4  // MOVE_MOUNT_F_EMPTY_PATH

    /// glibc's wrappers (2.36+), which the Glibc module does not export.
    private static let functions: (FsOpen, FsConfig, FsMount, MoveMount)? = {
        guard let handle = dlopen(nil, RTLD_NOW),
              let fsopen = dlsym(handle, "fsopen"), let fsconfig = dlsym(handle, "fsconfig"),
              let fsmount = dlsym(handle, "fsmount"), let moveMount = dlsym(handle, "move_mount") else { return nil }
        return (unsafeBitCast(fsopen, to: FsOpen.self), unsafeBitCast(fsconfig, to: FsConfig.self),
                unsafeBitCast(fsmount, to: FsMount.self), unsafeBitCast(moveMount, to: MoveMount.self))
    }()

    /// Mounts `lowers` (topmost first), with `options` (name → value; `upperdir` and the like), at `target`.
    static func mount(lowers: [String], options: [(String, String)], at target: String) throws {
        guard let (fsopen, fsconfig, fsmount, moveMount) = functions else {
            throw CacheError.io("fsopen (needs glibc 2.36)", target, ENOSYS)
        }
        let context = fsopen("overlay", 1)  // FSOPEN_CLOEXEC
        guard context >= 0 else { throw CacheError.io("fsopen overlay", target, errno) }
        defer { close(context) }
        for lower in lowers {
            guard fsconfig(context, setString, "lowerdir+", lower, 0) == 0 else {
                throw CacheError.io("fsconfig lowerdir+", lower, errno)
            }
        }
        for (name, value) in options {
            guard fsconfig(context, setString, name, value, 0) == 0 else { throw CacheError.io("fsconfig \(name)", value, errno) }
        }
        guard fsconfig(context, create, nil, nil, 0) == 0 else { throw CacheError.io("create overlay", target, errno) }
        let mounted = fsmount(context, 1, 0)  // FSMOUNT_CLOEXEC
        guard mounted >= 0 else { throw CacheError.io("fsmount", target, errno) }
        defer { close(mounted) }
        guard moveMount(mounted, "", AT_FDCWD, target, emptyPath) == 0 else { throw CacheError.io("move_mount", target, errno) }
    }
}
