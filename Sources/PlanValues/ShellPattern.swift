/// A shell pattern as BuildKit's Dockerfile frontend (syntax 1.7) reads it in `${NAME#pattern}`,
/// `${NAME%pattern}` and `${NAME/pattern/replacement}`: `*` is any run of characters, `?` any one character,
/// `\*`, `\?` and `\\` are those characters; `\}` and `\/` are `}` and `/`; every other character, `[` and `]`
/// included, is itself (BuildKit has no bracket expressions). BuildKit turns the pattern into a Go regular
/// expression, whose `.` does not match a newline; so neither `*` nor `?` matches one here.
///
/// Matching follows Go's leftmost-first rule: the first match found trying `*` longest first (or shortest first
/// for `#` and `%`), which for these patterns is the longest (or shortest) match at the leftmost start.
public struct ShellPattern: Hashable, Sendable {
    enum Element: Hashable, Sendable {
        case character(Unicode.Scalar)
        case any
        case star
    }

    /// An escape BuildKit rejects: `\` before anything but `*`, `?`, `\`, `}` or `/`, or at the end.
    public struct InvalidEscape: Error, Hashable, Sendable {
        /// The escape as written (`\x`, or `\` alone at the end).
        public let escape: String
    }

    let elements: [Element]

    /// Reads `pattern`; throws for an escape BuildKit rejects.
    public init(_ pattern: String) throws(InvalidEscape) {
        let chars = Array(pattern.unicodeScalars)
        var elements: [Element] = []
        var i = 0
        while i < chars.count {
            let c = chars[i]
            i += 1
            switch c {
            case "*": elements.append(.star)
            case "?": elements.append(.any)
            case "\\":
                guard i < chars.count else { throw InvalidEscape(escape: "\\") }
                let next = chars[i]
                // `\}` and `\/` escape the word's terminators; the next character is then read as usual.
                if next == "}" || next == "/" { continue }
                guard next == "*" || next == "?" || next == "\\" else { throw InvalidEscape(escape: "\\" + String(next)) }
                elements.append(.character(next))
                i += 1
            default: elements.append(.character(c))
            }
        }
        self.elements = elements
    }

    init(elements: [Element]) { self.elements = elements }

    /// `value` without the prefix the pattern matches (unchanged without a match).
    public func removingPrefix(of value: String, longest: Bool) -> String {
        let chars = Array(value.unicodeScalars)
        guard let end = Matcher(elements: elements, chars: chars, greedy: longest).match(at: 0) else { return value }
        return String(String.UnicodeScalarView(chars[end...]))
    }

    /// `value` without the suffix the pattern matches: BuildKit reverses pattern and value and removes a prefix.
    public func removingSuffix(of value: String, longest: Bool) -> String {
        let reversed = String(String.UnicodeScalarView(value.unicodeScalars.reversed()))
        let trimmed = ShellPattern(elements: elements.reversed()).removingPrefix(of: reversed, longest: longest)
        return String(String.UnicodeScalarView(trimmed.unicodeScalars.reversed()))
    }

    /// `value` with the first (or every, `all`) longest leftmost match replaced, as Go's `ReplaceAllString`
    /// (an empty match right after a match is not replaced) expands `replacement` (`$0` is the match, `$$` a `$`,
    /// any other `$name` or `${name}` is empty).
    public func replacing(in value: String, with replacement: String, all: Bool) -> String {
        let chars = Array(value.unicodeScalars)
        let matcher = Matcher(elements: elements, chars: chars, greedy: true)
        func find(from start: Int) -> (Int, Int)? {
            var position = start
            while position <= chars.count {
                if let end = matcher.match(at: position) { return (position, end) }
                position += 1
            }
            return nil
        }
        var out = String.UnicodeScalarView()
        var lastMatchEnd = 0
        var searchPosition = 0
        while searchPosition <= chars.count, let (start, end) = find(from: searchPosition) {
            out.append(contentsOf: chars[lastMatchEnd..<start])
            if end > lastMatchEnd || start == 0 {
                let match = String(String.UnicodeScalarView(chars[start..<end]))
                out.append(contentsOf: Self.expandTemplate(replacement, match: match).unicodeScalars)
            }
            lastMatchEnd = end
            searchPosition = end <= searchPosition ? searchPosition + 1 : end
            if !all { break }
        }
        out.append(contentsOf: chars[lastMatchEnd...])
        return String(out)
    }

    /// Go's `Regexp.Expand` for a pattern without groups.
    static func expandTemplate(_ template: String, match: String) -> String {
        guard template.contains("$") else { return template }
        let chars = Array(template.unicodeScalars)
        var out = String.UnicodeScalarView()
        var i = 0
        func isNameChar(_ c: Unicode.Scalar) -> Bool {
            c == "_" || c.properties.numericType == .decimal || c.properties.generalCategory.isLetter
        }
        while i < chars.count {
            guard chars[i] == "$" else { out.append(chars[i]); i += 1; continue }
            if i + 1 < chars.count, chars[i + 1] == "$" { out.append("$"); i += 2; continue }
            var j = i + 1
            let braced = j < chars.count && chars[j] == "{"
            if braced { j += 1 }
            let nameStart = j
            while j < chars.count, isNameChar(chars[j]) { j += 1 }
            var ok = j > nameStart
            let name = String(String.UnicodeScalarView(chars[nameStart..<j]))
            if ok, braced {
                if j < chars.count, chars[j] == "}" { j += 1 } else { ok = false }
            }
            guard ok else { out.append("$"); i += 1; continue }
            if name == "0" { out.append(contentsOf: match.unicodeScalars) }
            i = j
        }
        return String(out)
    }
}

extension Unicode.GeneralCategory {
    var isLetter: Bool {
        switch self {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return true
        default: return false
        }
    }
}

/// Tries the pattern at one start, `*` longest first (`greedy`) or shortest first; remembers what failed.
private final class Matcher {
    let elements: [ShellPattern.Element]
    let chars: [Unicode.Scalar]
    let greedy: Bool
    private var failed: Set<Int> = []

    init(elements: [ShellPattern.Element], chars: [Unicode.Scalar], greedy: Bool) {
        self.elements = elements
        self.chars = chars
        self.greedy = greedy
    }

    /// The end of the first match starting at `start`, in Go's order of preference.
    func match(at start: Int) -> Int? { match(element: 0, at: start) }

    private func match(element e: Int, at i: Int) -> Int? {
        if e == elements.count { return i }
        let key = e * (chars.count + 1) + i
        if failed.contains(key) { return nil }
        var result: Int?
        switch elements[e] {
        case .character(let c):
            if i < chars.count, chars[i] == c { result = match(element: e + 1, at: i + 1) }
        case .any:
            if i < chars.count, chars[i] != "\n" { result = match(element: e + 1, at: i + 1) }
        case .star:
            var limit = i
            while limit < chars.count, chars[limit] != "\n" { limit += 1 }
            let lengths = greedy ? Array((i...limit).reversed()) : Array(i...limit)
            for end in lengths {
                if let found = match(element: e + 1, at: end) { result = found; break }
            }
        }
        if result == nil { failed.insert(key) }
        return result
    }
}
