import Foundation
import PlanOCI

/// Keeps what is only legitimate inside an image off the host: device nodes, fifos and sockets are
/// left out of host outputs (`type=local`, `type=artifacts`, `plan image unpack`), and setuid/setgid
/// bits are cleared on regular files — unless the user allows them (`--allow special-files`). A 0666
/// `/dev/kmsg` or a setuid-root shell in an output folder would be usable by every local user.
public enum SpecialFiles {
    /// What was left out or changed, as paths relative to the output folder, sorted.
    public struct Report: Sendable, Equatable {
        public var removed: [String] = []
        public var cleared: [String] = []

        public var isEmpty: Bool { removed.isEmpty && cleared.isEmpty }

        /// One warning line for the run's warnings, naming a few of the files.
        public func warning(for output: String) -> String {
            func some(_ names: [String]) -> String {
                names.prefix(5).map { "`\($0)`" }.joined(separator: ", ") + (names.count > 5 ? ", …" : "")
            }
            var parts: [String] = []
            if !removed.isEmpty { parts.append("left out \(removed.count) device, fifo or socket file(s) (\(some(removed)))") }
            if !cleared.isEmpty { parts.append("cleared setuid/setgid on \(cleared.count) file(s) (\(some(cleared)))") }
            return "\(output): " + parts.joined(separator: " and ") + "; pass --allow special-files to keep them"
        }
    }

    /// The `--allow` entitlement that keeps special files in host outputs.
    public static let entitlement = "special-files"

    /// Removes device nodes, fifos and sockets below `root` and clears setuid/setgid on its regular
    /// files. Never follows a symbolic link: every entry is looked at and changed relative to its
    /// folder's descriptor, opened with `O_NOFOLLOW`.
    public static func strip(_ root: String) throws -> Report {
        let fd = open(root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw OutputError(destination: root, reason: "cannot open the folder: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var report = Report()
        try strip(fd, path: "", root: root, into: &report)
        report.removed.sort()
        report.cleared.sort()
        return report
    }

    private static func strip(_ folder: Int32, path: String, root: String, into report: inout Report) throws {
        for name in names(folder) {
            let relative = path.isEmpty ? name : path + "/" + name
            var info = stat()
            guard fstatat(folder, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else { continue }
            switch info.st_mode & S_IFMT {
            case S_IFDIR:
                let child = openat(folder, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                guard child >= 0 else {
                    throw OutputError(destination: root, reason: "cannot open `\(relative)`: \(String(cString: strerror(errno)))")
                }
                defer { close(child) }
                try strip(child, path: relative, root: root, into: &report)
            case S_IFCHR, S_IFBLK, S_IFIFO, S_IFSOCK:
                guard unlinkat(folder, name, 0) == 0 else {
                    throw OutputError(destination: root, reason: "cannot remove `\(relative)`: \(String(cString: strerror(errno)))")
                }
                report.removed.append(relative)
            case S_IFREG where info.st_mode & (S_ISUID | S_ISGID) != 0:
                guard fchmodat(folder, name, info.st_mode & 0o1777, 0) == 0 else {
                    throw OutputError(destination: root, reason: "cannot change the mode of `\(relative)`: \(String(cString: strerror(errno)))")
                }
                report.cleared.append(relative)
            default:
                continue
            }
        }
    }

    private static func names(_ folder: Int32) -> [String] {
        (try? DirectoryListing.names(of: folder)) ?? []
    }
}
