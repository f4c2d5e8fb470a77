import Foundation

/// Shell globs over the host's file system (context paths and stage trees), as the C library expands them.
public enum FileGlob {
    /// The paths matching `pattern`, sorted; none when nothing matches.
    public static func matches(_ pattern: String) -> [String] {
        var result = glob_t()
        defer { globfree(&result) }
        guard glob(pattern, 0, nil, &result) == 0 else { return [] }
        return (0..<Int(result.gl_pathc)).compactMap { index in
            result.gl_pathv[index].flatMap { String(validatingCString: $0) }
        }.sorted()
    }
}
