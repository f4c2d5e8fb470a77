import Foundation

/// Resolves a path inside a root directory the way the container would see it: symbolic links are
/// followed, but always within the root (an absolute link target or a `..` stops at the root), so a
/// path can never lead outside it.
enum ContainedPath {
    /// The host path for `path` inside `root`, following links except in the last component when
    /// `followLast` is false.
    static func resolve(_ path: String, in root: String, followLast: Bool = true) -> String {
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
            let candidate = root + "/" + (resolved + [part]).joined(separator: "/")
            let isLast = pending.isEmpty
            if (!isLast || followLast), hops < 40,
               let target = try? FileManager.default.destinationOfSymbolicLink(atPath: candidate)
            {
                hops += 1
                if target.hasPrefix("/") { resolved = [] }
                pending = target.split(separator: "/").map(String.init) + pending
                continue
            }
            resolved.append(part)
        }
        return resolved.isEmpty ? root : root + "/" + resolved.joined(separator: "/")
    }
}
