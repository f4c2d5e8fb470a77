import Foundation

/// `.dockerignore` matching, as Docker applies it to the build context: patterns are relative to the
/// context root, `*` and `?` stay within one path component, `**` spans any number of them, `!` re-includes,
/// the last matching pattern wins, and a path is excluded when it or any parent folder is.
public struct IgnoreMatcher: Sendable {
    /// One pattern line.
    public struct Pattern: Sendable {
        /// The pattern as written (without `!`).
        public var text: String
        /// A `!` pattern: it re-includes what it matches.
        public var isException: Bool
        fileprivate var regex: NSRegularExpression?
    }

    /// The patterns, in order; blank lines and comments left out.
    public private(set) var patterns: [Pattern] = []

    /// Patterns from `.dockerignore` lines (`#` comments and blank lines skipped).
    public init(_ lines: [String]) {
        for line in lines {
            var text = line.trimmingCharacters(in: .whitespaces)
            guard !text.isEmpty, !text.hasPrefix("#") else { continue }
            var exception = false
            if text.hasPrefix("!") {
                exception = true
                text = String(text.dropFirst()).trimmingCharacters(in: .whitespaces)
            }
            var cleaned = PosixPath.normalize(text).path
            if cleaned.hasPrefix("/") { cleaned.removeFirst() }
            if cleaned.isEmpty { cleaned = "." }
            patterns.append(Pattern(text: text, isException: exception, regex: Self.compile(cleaned)))
        }
    }

    /// The pattern that decides `path` (relative to the context root), when that pattern excludes it.
    public func excludingPattern(for path: String) -> Pattern? {
        let normalized = PosixPath.normalize(path).path
        guard normalized != "." else { return nil }
        let components = normalized.split(separator: "/")
        var decided: Pattern? = nil
        for pattern in patterns {
            guard let regex = pattern.regex else { continue }
            var matched = false
            // The path itself or any of its parent folders.
            for count in stride(from: components.count, through: 1, by: -1) {
                let candidate = components.prefix(count).joined(separator: "/")
                let range = NSRange(candidate.startIndex..., in: candidate)
                if regex.firstMatch(in: candidate, range: range) != nil {
                    matched = true
                    break
                }
            }
            if matched { decided = pattern }
        }
        return decided.flatMap { $0.isException ? nil : $0 }
    }

    /// Whether `path` (relative to the context root) is left out of the context.
    public func isExcluded(_ path: String) -> Bool { excludingPattern(for: path) != nil }

    /// A regular expression equivalent to Docker's pattern syntax.
    /// The regular expression a `.dockerignore` pattern stands for.
    public static func compile(_ pattern: String) -> NSRegularExpression? {
        var regex = "^"
        let chars = Array(pattern)
        var i = 0
        while i < chars.count {
            let c = chars[i]
            switch c {
            case "*":
                if i + 1 < chars.count, chars[i + 1] == "*" {
                    i += 1
                    if i + 1 < chars.count, chars[i + 1] == "/" {
                        // `**/` matches zero or more folders.
                        i += 1
                        regex += "(?:.*/)?"
                    } else {
                        regex += ".*"
                    }
                } else {
                    regex += "[^/]*"
                }
            case "?":
                regex += "[^/]"
            case "[":
                var j = i + 1
                var cls = "["
                if j < chars.count, chars[j] == "!" || chars[j] == "^" {
                    cls += "^"
                    j += 1
                }
                while j < chars.count, chars[j] != "]" {
                    if chars[j] == "\\", j + 1 < chars.count {
                        cls += NSRegularExpression.escapedPattern(for: String(chars[j + 1]))
                        j += 2
                        continue
                    }
                    cls += chars[j] == "-" ? "-" : NSRegularExpression.escapedPattern(for: String(chars[j]))
                    j += 1
                }
                if j >= chars.count { return nil }
                regex += cls + "]"
                i = j
            case "\\":
                if i + 1 < chars.count {
                    regex += NSRegularExpression.escapedPattern(for: String(chars[i + 1]))
                    i += 1
                }
            default:
                regex += NSRegularExpression.escapedPattern(for: String(c))
            }
            i += 1
        }
        regex += "$"
        return try? NSRegularExpression(pattern: regex)
    }
}
