/// One piece of a string that may hold variable references: literal text, a reference, a template parameter,
/// or an unclosed `${`. Offsets and lengths count Unicode scalars of the text as written.
public struct VariableToken: Hashable, Sendable {
    /// What the piece is.
    public enum Kind: Hashable, Sendable {
        /// Text as the builder reads it: `\$` is `$` here (in the builder dialect).
        case literal(String)
        /// `$NAME`, `${NAME}` or `${NAME<modifier>}`.
        case reference(VariableReferenceSyntax)
        /// `${{ name }}`: a template parameter, substituted before any build (name trimmed).
        case parameter(String)
        /// `${` or `${{` without its closing brace; the token runs to the end of the text.
        case unterminated
    }

    public var kind: Kind
    /// Offset of the piece in the text, in Unicode scalars.
    public var offset: Int
    /// Length of the piece as written, in Unicode scalars.
    public var length: Int
}

/// A variable reference: its name, how it is written and what it does when the name is unset or empty.
public struct VariableReferenceSyntax: Hashable, Sendable {
    /// `${NAME}` or `$NAME`.
    public enum Form: Hashable, Sendable { case braced, bare }

    /// What follows the name inside the braces. Words are raw text, themselves expanded when used.
    public enum Modifier: Hashable, Sendable {
        case none
        /// `${NAME:-word}`: the word when NAME is unset or empty.
        case defaultIfUnsetOrEmpty(String)
        /// `${NAME-word}`: the word when NAME is unset.
        case defaultIfUnset(String)
        /// `${NAME:+word}`: the word when NAME is set and not empty, else nothing.
        case alternativeIfSetAndNotEmpty(String)
        /// `${NAME+word}`: the word when NAME is set, else nothing.
        case alternativeIfSet(String)
        /// `${NAME:?message}`: an error when NAME is unset or empty.
        case errorIfUnsetOrEmpty(String)
        /// `${NAME?message}`: an error when NAME is unset.
        case errorIfUnset(String)
        /// `${NAME#pattern}` (shortest) or `${NAME##pattern}` (`longest`): NAME's value without the prefix the
        /// pattern matches. The pattern is raw text, itself expanded, then read as a ``ShellPattern``.
        case removePrefix(String, longest: Bool)
        /// `${NAME%pattern}` (shortest) or `${NAME%%pattern}` (`longest`): NAME's value without the suffix the
        /// pattern matches.
        case removeSuffix(String, longest: Bool)
        /// `${NAME/pattern/replacement}` (the first match) or `${NAME//pattern/replacement}` (`all` matches):
        /// NAME's value with the longest matches of the pattern replaced.
        case replace(pattern: String, replacement: String, all: Bool)
        /// Any other shell form (`${#NAME}`, `${NAME:=word}`, …): the text between the braces.
        /// A shell expands it; the builder does not know it.
        case other(String)
    }

    /// The name (`PATH`, or `1` for a positional parameter); may be empty for malformed `${}`.
    public var name: String
    public var form: Form
    public var modifier: Modifier

    public init(name: String, form: Form, modifier: Modifier = .none) {
        self.name = name
        self.form = form
        self.modifier = modifier
    }

    /// True when ``name`` is a variable name (`[A-Za-z_][A-Za-z0-9_]*`), not a positional digit or empty.
    public var hasVariableName: Bool { VariableSyntax.isName(name) }
}

/// The one scanner for `$NAME`, `${NAME}`, `${NAME:-word}`, `${{ name }}`, `\$` and `$$`, used by the checker
/// (which names a string refers to) and by the executor (what a string expands to).
///
/// The builder dialect reads as buildah's Dockerfile lexer does (checked with `buildah bud`): `\$` is a literal
/// `$`; a `$` not followed by `{`, a letter, `_` or a digit is a literal `$`, so `x$$y` is `x$` followed by
/// `$y`; `$1` is one positional digit. (BuildKit differs on `$$` alone: it reads the shell's process id, empty.)
/// The shell dialect reads a `run` script or a runtime command: `$$`, `$?`, `$#`, `$@`, `$*`, `$!` and `$-`
/// are the shell's own parameters, and `\$` is the shell's escape; neither starts a reference.
public enum VariableSyntax {
    /// Who expands the string.
    public enum Dialect: Hashable, Sendable {
        /// The builder (ENV, WORKDIR, USER, COPY paths, labels, …): what the executor expands.
        case builder
        /// A shell, at build time (`run`) or in the container (`cmd`, `entrypoint`, health checks).
        case shell
    }

    static func isNameStart(_ c: Unicode.Scalar) -> Bool {
        c == "_" || (c >= "a" && c <= "z") || (c >= "A" && c <= "Z")
    }

    static func isNameChar(_ c: Unicode.Scalar) -> Bool {
        isNameStart(c) || isDigit(c)
    }

    static func isDigit(_ c: Unicode.Scalar) -> Bool { c >= "0" && c <= "9" }

    /// True for `[A-Za-z_][A-Za-z0-9_]*`.
    public static func isName(_ text: String) -> Bool {
        guard let first = text.unicodeScalars.first, isNameStart(first) else { return false }
        return text.unicodeScalars.allSatisfy(isNameChar)
    }

    /// The pieces of `text`, in order; together they cover it exactly.
    public static func tokens(in text: String, dialect: Dialect = .builder) -> [VariableToken] {
        tokens(in: text, dialect: dialect, rawEscapes: false)
    }

    /// With `rawEscapes` (a pattern or a replacement, as BuildKit reads them), `\` and the character after it stay
    /// as written and start nothing.
    static func tokens(in text: String, dialect: Dialect, rawEscapes: Bool) -> [VariableToken] {
        guard text.contains("$") else {
            let length = text.unicodeScalars.count
            return length == 0 ? [] : [VariableToken(kind: .literal(text), offset: 0, length: length)]
        }
        let scanner = VariableScanner(chars: Array(text.unicodeScalars), dialect: dialect)
        return scanner.scan(from: 0, stopAt: nil, rawEscapes: rawEscapes).tokens
    }

    /// Every reference in `text`, including those inside a modifier's word (`${A:-${B}}` gives A, then B),
    /// with offsets in `text`.
    public static func references(in text: String, dialect: Dialect = .builder)
        -> [(reference: VariableReferenceSyntax, offset: Int, length: Int)]
    {
        references(in: text, dialect: dialect, rawEscapes: false)
    }

    static func references(in text: String, dialect: Dialect, rawEscapes: Bool)
        -> [(reference: VariableReferenceSyntax, offset: Int, length: Int)]
    {
        var result: [(reference: VariableReferenceSyntax, offset: Int, length: Int)] = []
        for token in tokens(in: text, dialect: dialect, rawEscapes: rawEscapes) {
            guard case .reference(let reference) = token.kind else { continue }
            result.append((reference, token.offset, token.length))
            if let (word, wordOffset) = reference.word(in: text, tokenOffset: token.offset) {
                for inner in references(in: word, dialect: dialect, rawEscapes: reference.modifier.hasPattern) {
                    result.append((inner.reference, wordOffset + inner.offset, inner.length))
                }
            }
        }
        return result
    }

    /// `text` expanded as the builder expands it, with `values` for the variables: unknown names are empty,
    /// an unclosed `${`, a template parameter and a form the builder lacks are left as written.
    public static func expand(_ text: String, _ values: [String: String]) -> String {
        guard text.contains("$") else { return text }
        return (try? render(text, values, strict: false)) ?? text
    }

    /// `text` expanded as the builder expands it; throws where the builder stops with an error: an unclosed `${`,
    /// a modifier it does not know, `${NAME:?message}` or `${NAME?message}` with NAME unset, a pattern with an
    /// escape BuildKit rejects.
    public static func expanding(_ text: String, _ values: [String: String]) throws(VariableExpansionError) -> String {
        guard text.contains("$") else { return text }
        return try render(text, values, strict: true)
    }

    /// With `rawEscapes` (a pattern or replacement word), literal text keeps its backslashes, as BuildKit's does.
    static func render(_ text: String, _ values: [String: String], strict: Bool,
                       rawEscapes: Bool = false) throws(VariableExpansionError) -> String {
        let scalars = Array(text.unicodeScalars)
        func written(_ token: VariableToken) -> String {
            String(String.UnicodeScalarView(scalars[token.offset..<(token.offset + token.length)]))
        }
        var out = ""
        for token in tokens(in: text, dialect: .builder, rawEscapes: rawEscapes) {
            switch token.kind {
            case .literal(let literal):
                out += literal
            case .parameter:
                out += written(token)
            case .unterminated:
                if strict { throw VariableExpansionError(text: text, offset: token.offset, length: token.length, reason: .unterminated) }
                out += written(token)
            case .reference(let reference):
                let value = values[reference.name]
                let isEmpty = value?.isEmpty ?? true
                func fail(_ reason: VariableExpansionError.Reason) -> VariableExpansionError {
                    VariableExpansionError(text: text, offset: token.offset, length: token.length, reason: reason)
                }
                // `${}` and `${:-x}` name nothing: BuildKit's "bad substitution".
                if strict, reference.form == .braced, reference.name.isEmpty {
                    throw fail(.unsupported(String(written(token).unicodeScalars.dropFirst(2).dropLast())))
                }
                switch reference.modifier {
                case .none:
                    out += value ?? ""
                case .defaultIfUnsetOrEmpty(let word):
                    out += isEmpty ? try render(word, values, strict: strict) : value ?? ""
                case .defaultIfUnset(let word):
                    out += value == nil ? try render(word, values, strict: strict) : value ?? ""
                case .alternativeIfSetAndNotEmpty(let word):
                    out += isEmpty ? "" : try render(word, values, strict: strict)
                case .alternativeIfSet(let word):
                    out += value == nil ? "" : try render(word, values, strict: strict)
                case .errorIfUnsetOrEmpty(let message):
                    if strict, value == nil { throw fail(.unset(reference.name, expand(message, values))) }
                    if strict, isEmpty { throw fail(.empty(reference.name, expand(message, values))) }
                    out += value ?? ""
                case .errorIfUnset(let message):
                    if strict, value == nil { throw fail(.unset(reference.name, expand(message, values))) }
                    out += value ?? ""
                case .removePrefix(let word, let longest), .removeSuffix(let word, let longest):
                    let isSuffix: Bool
                    if case .removeSuffix = reference.modifier { isSuffix = true } else { isSuffix = false }
                    var patternText = try render(word, values, strict: strict, rawEscapes: true)
                    var greedy = longest
                    // BuildKit looks for the doubled operator after expanding the word.
                    if !greedy, patternText.unicodeScalars.first == (isSuffix ? "%" : "#") {
                        greedy = true
                        patternText = String(patternText.unicodeScalars.dropFirst())
                    }
                    do {
                        let pattern = try ShellPattern(patternText)
                        out += isSuffix ? pattern.removingSuffix(of: value ?? "", longest: greedy)
                            : pattern.removingPrefix(of: value ?? "", longest: greedy)
                    } catch {
                        if strict { throw fail(.invalidPattern(patternText, error.escape)) }
                        out += written(token)
                    }
                case .replace(let patternWord, let replacementWord, let all):
                    let patternText = try render(patternWord, values, strict: strict, rawEscapes: true)
                    let replacement = try render(replacementWord, values, strict: strict, rawEscapes: true)
                    do {
                        let pattern = try ShellPattern(patternText)
                        out += pattern.replacing(in: value ?? "", with: replacement, all: all)
                    } catch {
                        if strict { throw fail(.invalidPattern(patternText, error.escape)) }
                        out += written(token)
                    }
                case .other(let inner):
                    if strict { throw fail(.unsupported(inner)) }
                }
            }
        }
        return out
    }
}

extension VariableReferenceSyntax {
    /// The modifier's word and its offset in `text`, for a reference token at `tokenOffset`.
    func word(in text: String, tokenOffset: Int) -> (String, Int)? {
        let word: String
        let operatorLength: Int
        switch modifier {
        case .none, .other: return nil
        case .defaultIfUnset(let w), .alternativeIfSet(let w), .errorIfUnset(let w): (word, operatorLength) = (w, 1)
        case .defaultIfUnsetOrEmpty(let w), .alternativeIfSetAndNotEmpty(let w), .errorIfUnsetOrEmpty(let w):
            (word, operatorLength) = (w, 2)
        case .removePrefix(let w, let longest), .removeSuffix(let w, let longest): (word, operatorLength) = (w, longest ? 2 : 1)
        // Pattern and replacement as one word: the `/` between them starts no reference.
        case .replace(let pattern, let replacement, let all): (word, operatorLength) = (pattern + "/" + replacement, all ? 2 : 1)
        }
        return (word, tokenOffset + 2 + name.unicodeScalars.count + operatorLength)
    }
}

extension VariableReferenceSyntax.Modifier {
    /// True for the pattern forms (`#`, `##`, `%`, `%%`, `/`, `//`), whose words keep their backslashes.
    public var hasPattern: Bool {
        switch self {
        case .removePrefix, .removeSuffix, .replace: return true
        default: return false
        }
    }

    /// The pattern of a pattern form, as written (references not expanded); nil for the other forms.
    public var pattern: String? {
        switch self {
        case .removePrefix(let pattern, _), .removeSuffix(let pattern, _), .replace(let pattern, _, _): return pattern
        default: return nil
        }
    }

    /// The modifier as written after the name (`:-word`, `##pattern`, `/pattern/replacement`), or the whole text
    /// between the braces for ``other(_:)``.
    public var written: String {
        switch self {
        case .none: return ""
        case .defaultIfUnsetOrEmpty(let w): return ":-" + w
        case .defaultIfUnset(let w): return "-" + w
        case .alternativeIfSetAndNotEmpty(let w): return ":+" + w
        case .alternativeIfSet(let w): return "+" + w
        case .errorIfUnsetOrEmpty(let w): return ":?" + w
        case .errorIfUnset(let w): return "?" + w
        case .removePrefix(let w, let longest): return (longest ? "##" : "#") + w
        case .removeSuffix(let w, let longest): return (longest ? "%%" : "%") + w
        case .replace(let pattern, let replacement, let all): return (all ? "//" : "/") + pattern + "/" + replacement
        case .other(let inner): return inner
        }
    }
}

/// Why the builder cannot expand a string, and where.
public struct VariableExpansionError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Reason: Hashable, Sendable {
        /// `${` without `}`.
        case unterminated
        /// A form the builder does not know (the text between the braces).
        case unsupported(String)
        /// `${NAME:?message}` or `${NAME?message}` with NAME unset (name, message).
        case unset(String, String)
        /// `${NAME:?message}` with NAME set but empty (name, message).
        case empty(String, String)
        /// A pattern (as expanded) with an escape BuildKit rejects (pattern, the escape as written).
        case invalidPattern(String, String)
    }

    public let text: String
    /// Offset and length of the reference, in Unicode scalars of ``text``.
    public let offset: Int
    public let length: Int
    public let reason: Reason

    public var description: String { reason.message }
}

extension VariableExpansionError.Reason {
    /// What went wrong, in BuildKit's words where it has them.
    public var message: String {
        switch self {
        case .unterminated: return "`${` has no closing brace"
        case .unsupported(let inner):
            return "`${\(inner)}` is a shell form the builder does not expand"
        // BuildKit's words: `NAME: message`, or its own message when the word is empty.
        case .unset(let name, let message): return "\(name): " + (message.isEmpty ? "is not allowed to be unset" : message)
        case .empty(let name, let message): return "\(name): " + (message.isEmpty ? "is not allowed to be empty" : message)
        case .invalidPattern(let pattern, let escape):
            return "invalid pattern (\(pattern)) in substitution: invalid escape '\(escape)'"
        }
    }
}

/// The scanner behind ``VariableSyntax/tokens(in:dialect:)``.
struct VariableScanner {
    let chars: [Unicode.Scalar]
    let dialect: VariableSyntax.Dialect

    /// Scans from `start` to the end, or to the first `stop` character (`}`, or `/` after a pattern) that closes
    /// nothing it opened. `end` is that character's index, or `chars.count`. With `rawEscapes`, `\` and the
    /// character after it are literal text as written.
    func scan(from start: Int, stopAt stop: Unicode.Scalar?, rawEscapes: Bool) -> (tokens: [VariableToken], end: Int) {
        var tokens: [VariableToken] = []
        var literal = ""
        var literalStart = start
        var i = start
        func flush(upTo end: Int) {
            if end > literalStart { tokens.append(VariableToken(kind: .literal(literal), offset: literalStart, length: end - literalStart)) }
            literal = ""
        }
        func emit(_ kind: VariableToken.Kind, from begin: Int, to end: Int) {
            flush(upTo: begin)
            tokens.append(VariableToken(kind: kind, offset: begin, length: end - begin))
            literalStart = end
        }
        while i < chars.count {
            let c = chars[i]
            let next: Unicode.Scalar? = i + 1 < chars.count ? chars[i + 1] : nil
            if let stop, c == stop {
                flush(upTo: i)
                return (tokens, i)
            }
            if rawEscapes, c == "\\", let next {
                literal.unicodeScalars.append(c)
                literal.unicodeScalars.append(next)
                i += 2
                continue
            }
            if c == "\\", next == "$" {
                literal += dialect == .builder ? "$" : "\\$"
                i += 2
                continue
            }
            guard c == "$", let next else {
                literal.unicodeScalars.append(c)
                i += 1
                continue
            }
            if next == "{" {
                let (kind, end) = braced(at: i)
                emit(kind, from: i, to: end)
                if case .unterminated = kind { return (tokens, chars.count) }
                i = end
            } else if VariableSyntax.isNameStart(next) {
                var j = i + 1
                while j < chars.count, VariableSyntax.isNameChar(chars[j]) { j += 1 }
                let name = String(String.UnicodeScalarView(chars[(i + 1)..<j]))
                emit(.reference(VariableReferenceSyntax(name: name, form: .bare, modifier: .none)), from: i, to: j)
                i = j
            } else if VariableSyntax.isDigit(next) {
                emit(.reference(VariableReferenceSyntax(name: String(next), form: .bare, modifier: .none)), from: i, to: i + 2)
                i += 2
            } else if dialect == .shell, "$?#@*!-".unicodeScalars.contains(next) {
                literal.unicodeScalars.append(c)
                literal.unicodeScalars.append(next)
                i += 2
            } else {
                literal.unicodeScalars.append(c)
                i += 1
            }
        }
        flush(upTo: chars.count)
        return (tokens, chars.count)
    }

    /// The token starting with `${` at `start`, and the index after it.
    func braced(at start: Int) -> (VariableToken.Kind, Int) {
        if start + 2 < chars.count, chars[start + 2] == "{" {  // ${{ name }}
            var j = start + 3
            while j + 1 < chars.count, !(chars[j] == "}" && chars[j + 1] == "}") { j += 1 }
            guard j + 1 < chars.count else { return (.unterminated, chars.count) }
            let name = String(String.UnicodeScalarView(chars[(start + 3)..<j]))
            return (.parameter(name.trimmingSpaces()), j + 2)
        }
        var k = start + 2
        let prefixed = k < chars.count && (chars[k] == "#" || chars[k] == "!")
        if prefixed { k += 1 }
        let nameStart = k
        while k < chars.count, VariableSyntax.isNameChar(chars[k]) { k += 1 }
        let name = String(String.UnicodeScalarView(chars[nameStart..<k]))
        func text(_ range: Range<Int>) -> String { String(String.UnicodeScalarView(chars[range])) }
        if !prefixed, k < chars.count, chars[k] == "}" {
            return (.reference(VariableReferenceSyntax(name: name, form: .braced, modifier: .none)), k + 1)
        }
        var operatorEnd = k
        var op = ""
        if !prefixed, k < chars.count {
            if chars[k] == ":", k + 1 < chars.count, "-+?".unicodeScalars.contains(chars[k + 1]) {
                op = ":" + String(chars[k + 1])
                operatorEnd = k + 2
            } else if "-+?".unicodeScalars.contains(chars[k]) {
                op = String(chars[k])
                operatorEnd = k + 1
            } else if "#%/".unicodeScalars.contains(chars[k]) {
                let doubled = k + 1 < chars.count && chars[k + 1] == chars[k]
                op = String(chars[k]) + (doubled ? String(chars[k]) : "")
                operatorEnd = k + (doubled ? 2 : 1)
            }
        }
        if !name.isEmpty, op == "/" || op == "//" {
            // BuildKit: the pattern runs to the next unescaped `/` (a `}` does not end it), then the replacement.
            // Without that `/` it is BuildKit's "missing '/' in ${}": read below as a form the builder lacks.
            let (_, patternEnd) = scan(from: operatorEnd, stopAt: "/", rawEscapes: true)
            if patternEnd < chars.count {
                let (_, end) = scan(from: patternEnd + 1, stopAt: "}", rawEscapes: true)
                guard end < chars.count else { return (.unterminated, chars.count) }
                let modifier = VariableReferenceSyntax.Modifier.replace(
                    pattern: text(operatorEnd..<patternEnd), replacement: text((patternEnd + 1)..<end), all: op == "//")
                return (.reference(VariableReferenceSyntax(name: name, form: .braced, modifier: modifier)), end + 1)
            }
        }
        let isPattern = !name.isEmpty && (op.hasPrefix("#") || op.hasPrefix("%"))
        let (_, end) = scan(from: operatorEnd, stopAt: "}", rawEscapes: isPattern)
        guard end < chars.count else { return (.unterminated, chars.count) }
        let word = text(operatorEnd..<end)
        let modifier: VariableReferenceSyntax.Modifier
        switch op {
        case ":-": modifier = .defaultIfUnsetOrEmpty(word)
        case "-": modifier = .defaultIfUnset(word)
        case ":+": modifier = .alternativeIfSetAndNotEmpty(word)
        case "+": modifier = .alternativeIfSet(word)
        case ":?": modifier = .errorIfUnsetOrEmpty(word)
        case "?": modifier = .errorIfUnset(word)
        case "#" where isPattern, "##" where isPattern: modifier = .removePrefix(word, longest: op == "##")
        case "%" where isPattern, "%%" where isPattern: modifier = .removeSuffix(word, longest: op == "%%")
        default: modifier = .other(text((start + 2)..<end))
        }
        return (.reference(VariableReferenceSyntax(name: name, form: .braced, modifier: modifier)), end + 1)
    }
}

extension String {
    func trimmingSpaces() -> String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { $0 != " " && $0 != "\t" }),
              let last = scalars.lastIndex(where: { $0 != " " && $0 != "\t" })
        else { return "" }
        return String(scalars[first...last])
    }
}
