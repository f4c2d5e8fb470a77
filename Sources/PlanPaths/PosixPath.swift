/// Path arithmetic on the POSIX paths of images and build contexts (never the host's file system).
public enum PosixPath {
    /// Whether `path` starts at the root.
    public static func isAbsolute(_ path: String) -> Bool { path.hasPrefix("/") }

    /// `path` with `.`, empty components and `..` resolved. `climbsOut` is true when a `..` would go
    /// above the start (the root for absolute paths, the base for relative ones); such a `..` is dropped.
    public static func normalize(_ path: String) -> (path: String, climbsOut: Bool) {
        let absolute = isAbsolute(path)
        var parts: [Substring] = []
        var climbs = false
        for component in path.split(separator: "/", omittingEmptySubsequences: true) {
            switch component {
            case ".": continue
            case "..":
                if parts.isEmpty { climbs = true } else { parts.removeLast() }
            default: parts.append(component)
            }
        }
        let joined = parts.joined(separator: "/")
        if absolute { return ("/" + joined, climbs) }
        return (joined.isEmpty ? "." : joined, climbs)
    }

    /// `relative` resolved against the absolute `base`, normalised.
    public static func resolve(_ relative: String, against base: String) -> (path: String, climbsOut: Bool) {
        if isAbsolute(relative) { return normalize(relative) }
        return normalize(base + "/" + relative)
    }

    /// A path inside a stage: absolute as written, or relative to the stage's workdir; nil when it is
    /// relative and the workdir is unknown.
    public static func resolve(_ path: String, workdir: String?) -> (path: String, climbsOut: Bool)? {
        if isAbsolute(path) { return normalize(path) }
        guard let workdir else { return nil }
        return resolve(path, against: workdir)
    }

    /// True when `path` is `directory` or lies beneath it. Both must be normalised.
    public static func isInside(_ path: String, _ directory: String) -> Bool {
        if directory == "/" { return isAbsolute(path) }
        return path == directory || path.hasPrefix(directory + "/")
    }

    /// The last component.
    public static func basename(_ path: String) -> String {
        let trimmed = path.hasSuffix("/") && path.count > 1 ? String(path.dropLast()) : path
        return trimmed.split(separator: "/").last.map(String.init) ?? trimmed
    }

    /// Everything up to the last component; "." for a bare name, "/" for a top-level absolute path.
    public static func dirname(_ path: String) -> String {
        let trimmed = path.hasSuffix("/") && path.count > 1 ? String(path.dropLast()) : path
        guard let slash = trimmed.lastIndex(of: "/") else { return "." }
        let head = String(trimmed[..<slash])
        return head.isEmpty ? "/" : head
    }

    /// True when the path holds glob characters (`*`, `?`, `[`).
    public static func hasGlob(_ path: String) -> Bool {
        path.contains { $0 == "*" || $0 == "?" || $0 == "[" }
    }

    /// The leading components that hold no glob characters ("src/app" for "src/app/*.go").
    public static func staticPrefix(_ path: String) -> String {
        var parts: [Substring] = []
        for component in path.split(separator: "/", omittingEmptySubsequences: false) {
            if component.contains(where: { $0 == "*" || $0 == "?" || $0 == "[" }) { break }
            parts.append(component)
        }
        let prefix = parts.joined(separator: "/")
        return prefix.isEmpty && isAbsolute(path) ? "/" : prefix
    }
}
