import Foundation
import PlanDiagnostics

/// Reads a Dockerfile by BuildKit's rules (frontend/dockerfile/parser): parser directives only at the top,
/// continuation lines ending in the escape character, comment and empty lines inside continuations
/// skipped, heredocs after `RUN`/`COPY`/`ADD`, JSON (exec) form where the text is a JSON array of strings
/// (anything else falls back to shell form, as in BuildKit), instruction names in any case.
public struct DockerfileParser: Sendable {
    public init() {}

    /// The result: the file when it could be read, and every problem, located.
    public struct Result: Sendable {
        public var dockerfile: Dockerfile?
        public var diagnostics: [Diagnostic]
        public var source: SourceFile?
    }

    /// Reads raw bytes: empty, binary (a NUL byte) and non-UTF-8 files are errors.
    public func parse(data: [UInt8], path: String) -> Result {
        let start = SourceLocation.startOf(path)
        if data.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }) {
            return Result(
                dockerfile: nil,
                diagnostics: [.error(DiagnosticCode.dockerfileNotText, "the Dockerfile is empty: it has no instructions", at: start)])
        }
        if data.contains(0) {
            return Result(
                dockerfile: nil,
                diagnostics: [.error(DiagnosticCode.dockerfileNotText, "this is a binary file, not a Dockerfile", at: start)])
        }
        guard let text = String(validating: data, as: UTF8.self) else {
            // Locate the first line that is not UTF-8.
            var line = 1
            var lineStart = 0
            for (index, byte) in data.enumerated() where byte == 0x0A {
                if String(validating: data[lineStart..<index], as: UTF8.self) == nil { break }
                line += 1
                lineStart = index + 1
            }
            return Result(
                dockerfile: nil,
                diagnostics: [.error(DiagnosticCode.dockerfileNotText, "the Dockerfile is not UTF-8 text", at: SourceLocation(file: path, line: line, column: 1))])
        }
        var result = parse(text: text, path: path)
        result.source = SourceFile(path: path, text: text)
        return result
    }

    /// Reads Dockerfile text.
    public func parse(text: String, path: String) -> Result {
        var state = ParseState(path: path, text: text)
        state.run()
        let source = SourceFile(path: path, text: text)
        if state.diagnostics.contains(where: { $0.severity == .error }) {
            return Result(dockerfile: nil, diagnostics: state.diagnostics, source: source)
        }
        if state.instructions.isEmpty {
            state.diagnostics.append(.error(DiagnosticCode.dockerfileNotText, "the Dockerfile has no instructions", at: .startOf(path)))
            return Result(dockerfile: nil, diagnostics: state.diagnostics, source: source)
        }
        let file = Dockerfile(
            path: path, directives: state.directives, escape: state.escape, instructions: state.instructions,
            trailingComments: state.comments)
        return Result(dockerfile: file, diagnostics: state.diagnostics, source: source)
    }
}

/// A stretch of the joined line and where it came from, to locate flags.
private struct Segment {
    var offset: Int
    var line: Int
    var column: Int
}

private struct ParseState {
    let path: String
    var lines: [String]
    var index = 0
    var escape: Character = "\\"
    var directives: [Dockerfile.Directive] = []
    var directivesDone = false
    var seenDirectives: Set<String> = []
    var instructions: [DockerfileInstruction] = []
    var diagnostics: [Diagnostic] = []
    var comments: [String] = []
    var blankLine = false

    init(path: String, text: String) {
        self.path = path
        // By bytes: "\r\n" is one Character to Swift. A "\r" before "\n" is dropped, as bufio.ScanLines does.
        var lines = text.utf8.split(separator: 0x0A, omittingEmptySubsequences: false).map { line -> String in
            String(decoding: line.last == 0x0D ? line.dropLast() : line, as: UTF8.self)
        }
        if lines.last == "" { lines.removeLast() }
        if let first = lines.first, first.hasPrefix("\u{FEFF}") { lines[0] = String(first.dropFirst()) }
        self.lines = lines
    }

    func location(_ line: Int, _ column: Int, length: Int = 1) -> SourceLocation {
        SourceLocation(file: path, line: line, column: column, length: length)
    }

    static func isSpace(_ c: Character) -> Bool { c == " " || c == "\t" }

    static func trimLeading(_ s: String) -> Substring { s.drop(while: isSpace) }

    static func isComment(_ s: String) -> Bool { trimLeading(s).hasPrefix("#") }

    /// BuildKit's directive parser: sees every line until the first that is not a known directive.
    mutating func possibleDirective(_ raw: String, line: Int) {
        guard !directivesDone else { return }
        guard let (name, value) = Self.directive(raw) else {
            directivesDone = true
            return
        }
        let known = ["syntax", "escape", "check"].contains(name)
        if !known {
            // BuildKit stops reading directives here and reads this line as a comment.
            directivesDone = true
            directives.append(.init(name: name, value: value, location: location(line, 1, length: raw.count), isKnown: false))
            return
        }
        if seenDirectives.contains(name) {
            diagnostics.append(
                .error(DiagnosticCode.dockerfileSyntax, "only one \(name) parser directive can be used", at: location(line, 1, length: raw.count)))
            return
        }
        seenDirectives.insert(name)
        if name == "escape" {
            if value == "`" || value == "\\" {
                escape = Character(value)
            } else {
                diagnostics.append(
                    .error(DiagnosticCode.dockerfileSyntax, "invalid escape token '\(value)' does not match ` or \\", at: location(line, 1, length: raw.count)))
            }
        }
        directives.append(.init(name: name, value: value, location: location(line, 1, length: raw.count), isKnown: true))
    }

    /// `^#[ \t]*([a-zA-Z][a-zA-Z0-9]*)[ \t]*=[ \t]*(.+?)[ \t]*$`
    static func directive(_ raw: String) -> (String, String)? {
        var rest = Substring(raw)
        guard rest.first == "#" else { return nil }
        rest = rest.dropFirst().drop(while: isSpace)
        guard let first = rest.first, first.isASCII, first.isLetter else { return nil }
        let name = rest.prefix { $0.isASCII && ($0.isLetter || $0.isNumber) }
        rest = rest.dropFirst(name.count).drop(while: isSpace)
        guard rest.first == "=" else { return nil }
        var value = rest.dropFirst().drop(while: isSpace)
        while let last = value.last, isSpace(last) { value = value.dropLast() }
        guard !value.isEmpty else { return nil }
        return (name.lowercased(), String(value))
    }

    /// Removes a trailing escape character (and the blanks after it): whether the line continues.
    func trimContinuation(_ line: String) -> (String, continues: Bool) {
        var trimmed = Substring(line)
        while let last = trimmed.last, Self.isSpace(last) { trimmed = trimmed.dropLast() }
        if trimmed.last == escape {
            return (String(trimmed.dropLast()), true)
        }
        return (line, false)
    }

    mutating func run() {
        while index < lines.count {
            let raw = lines[index]
            let lineNumber = index + 1
            index += 1
            possibleDirective(raw, line: lineNumber)
            if diagnostics.contains(where: { $0.severity == .error }) { return }
            let stripped = String(Self.trimLeading(raw))
            if stripped.hasPrefix("#") {
                if let directive = directives.last, directive.location.line == lineNumber {
                    if !directive.isKnown { comments.append(String(stripped.dropFirst())) }
                    continue
                }
                comments.append(String(stripped.dropFirst()))
                continue
            }
            let leading = raw.count - stripped.count
            var (line, continues) = trimContinuation(stripped)
            if !continues && line.trimmingBlanks().isEmpty {
                blankLine = true
                continue
            }
            var segments = [Segment(offset: 0, line: lineNumber, column: leading + 1)]
            var sourceLines = [raw]
            var inner: [String] = []
            var emptyContinuation = false
            while continues && index < lines.count {
                let next = lines[index]
                index += 1
                sourceLines.append(next)
                possibleDirective(next, line: index)
                if Self.isComment(next) {
                    inner.append(String(Self.trimLeading(next).dropFirst()))
                    continue
                }
                if Self.trimLeading(next).isEmpty {
                    emptyContinuation = true
                    continue
                }
                segments.append(Segment(offset: line.count, line: index, column: 1))
                let piece: String
                (piece, continues) = trimContinuation(next)
                line += piece
            }
            _ = emptyContinuation
            let endLine = index
            guard var instruction = makeInstruction(line, segments: segments, lineNumber: lineNumber, column: leading + 1) else {
                continue
            }
            instruction.sourceLines = sourceLines
            instruction.comments = comments + inner
            instruction.blankLineBefore = blankLine
            comments = []
            blankLine = false
            // Heredocs: RUN, COPY, ADD in shell form.
            if ["RUN", "COPY", "ADD"].contains(instruction.keyword), case .shell(let rest) = instruction.arguments,
                rest.contains("<<")
            {
                for var heredoc in Self.heredocs(in: rest) {
                    var terminated = false
                    while index < lines.count {
                        let body = lines[index]
                        index += 1
                        instruction.sourceLines.append(body)
                        let candidate = heredoc.chomp ? String(body.drop { $0 == "\t" }) : body
                        if candidate == heredoc.name {
                            terminated = true
                            break
                        }
                        heredoc.content += body + "\n"
                    }
                    if !terminated {
                        diagnostics.append(
                            .error(
                                DiagnosticCode.dockerfileSyntax, "unterminated heredoc", at: location(lineNumber, leading + 1),
                                notes: [.init("the heredoc `\(heredoc.name)` is not closed by a line `\(heredoc.name)` before the end of the file")]))
                        return
                    }
                    instruction.heredocs.append(heredoc)
                }
            }
            instruction.endLine = index
            _ = endLine
            instructions.append(instruction)
        }
        if !comments.isEmpty { return }
    }

    func locate(_ offset: Int, in segments: [Segment], length: Int) -> SourceLocation {
        let segment = segments.last { $0.offset <= offset } ?? segments[0]
        return location(segment.line, segment.column + offset - segment.offset, length: max(1, length))
    }

    mutating func makeInstruction(_ line: String, segments: [Segment], lineNumber: Int, column: Int) -> DockerfileInstruction? {
        let trimmed = line.trimmingBlanks()
        let name = trimmed.prefix { !Self.isSpace($0) }
        let keyword = name.uppercased()
        let afterName = trimmed.dropFirst(name.count).drop(while: Self.isSpace)
        let nameLocation = location(lineNumber, column, length: name.count)
        if !DockerfileKeyword.all.contains(keyword) {
            let suggestion = DockerfileKeyword.all.sorted().min { Self.distance($0, keyword) < Self.distance($1, keyword) }
            var message = "unknown instruction: \(name)"
            if let suggestion, Self.distance(suggestion, keyword) <= 2 { message += " (did you mean \(suggestion.lowercased())?)" }
            diagnostics.append(.error(DiagnosticCode.unknownInstruction, message, at: nameLocation))
            return nil
        }
        let restOffset = trimmed.count - afterName.count + (line.count - line.drop(while: Self.isSpace).count)
        let (flagWords, rest) = Self.extractFlags(String(afterName))
        var flags: [DockerfileFlag] = []
        var searchFrom = restOffset
        for word in flagWords {
            var body = Substring(word)
            if body.hasPrefix("--") { body = body.dropFirst(2) }
            let flagName: String
            let value: String?
            if let equals = body.firstIndex(of: "=") {
                flagName = String(body[..<equals])
                value = String(body[body.index(after: equals)...])
            } else {
                flagName = String(body)
                value = nil
            }
            var offset = searchFrom
            if let range = line.range(of: "--" + flagName, range: line.index(line.startIndex, offsetBy: min(searchFrom, line.count))..<line.endIndex) {
                offset = line.distance(from: line.startIndex, to: range.lowerBound)
                searchFrom = offset + flagName.count + 2
            }
            flags.append(DockerfileFlag(name: flagName, value: value, location: locate(offset, in: segments, length: flagName.count + 2)))
        }
        var arguments = DockerfileInstruction.Arguments.shell(rest)
        let jsonCapable: Set<String> = ["ADD", "COPY", "VOLUME", "CMD", "ENTRYPOINT", "RUN", "SHELL"]
        if jsonCapable.contains(keyword), rest.hasPrefix("[") {
            switch Self.jsonStrings(rest) {
            case .strings(let words): arguments = .exec(words)
            case .notStrings:
                diagnostics.append(
                    .error(DiagnosticCode.dockerfileSyntax, "when using JSON array syntax, arrays must be comprised of strings only", at: nameLocation))
                return nil
            case .notJSON: break
            }
        }
        if keyword == "HEALTHCHECK" {
            let words = rest.split(whereSeparator: { $0 == " " || $0 == "\t" })
            if let first = words.first, first.uppercased() == "CMD" {
                let command = rest.dropFirst(first.count).drop(while: Self.isSpace)
                if command.hasPrefix("["), case .strings(let words) = Self.jsonStrings(String(command)) {
                    arguments = .exec(["CMD"] + words)
                }
            }
        }
        if (keyword == "ENV" || keyword == "LABEL"), !rest.isEmpty {
            let words = Self.words(rest, escape: escape)
            if let first = words.first, !first.contains("=") {
                if rest.split(maxSplits: 1, whereSeparator: { $0 == " " || $0 == "\t" }).count < 2 {
                    diagnostics.append(.error(DiagnosticCode.dockerfileSyntax, "\(keyword) must have two arguments", at: nameLocation))
                    return nil
                }
            } else if let bad = words.first(where: { !$0.contains("=") }) {
                diagnostics.append(
                    .error(DiagnosticCode.dockerfileSyntax, "Syntax error - can't find = in \"\(bad)\". Must be of the form: name=value", at: nameLocation))
                return nil
            }
        }
        return DockerfileInstruction(
            keyword: keyword, original: line, sourceLines: [], location: nameLocation, endLine: lineNumber, flags: flags,
            arguments: arguments, heredocs: [], comments: [], blankLineBefore: false)
    }

    enum JSONResult { case strings([String]), notStrings, notJSON }

    static func jsonStrings(_ text: String) -> JSONResult {
        guard let data = text.data(using: .utf8),
            let value = try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]),
            let array = value as? [Any]
        else { return .notJSON }
        var words: [String] = []
        for element in array {
            guard let string = element as? String else { return .notStrings }
            words.append(string)
        }
        return .strings(words)
    }

    /// BuildKit's extractBuilderFlags: leading `--name[=value]` words (quotes removed); `--` ends them.
    static func extractFlags(_ line: String) -> ([String], String) {
        let split = splitWords(line, escape: "\\", keepQuotes: false, flagsOnly: true)
        return (split.words, split.rest)
    }

    /// BuildKit's parseWords: whitespace-separated words, quotes and escapes kept in the words.
    static func words(_ rest: String, escape: Character) -> [String] {
        splitWords(rest, escape: escape, keepQuotes: true, flagsOnly: false).words
    }

    /// The one word scanner behind BuildKit's parseWords and extractBuilderFlags, which differ only in this:
    /// parseWords keeps quotes and escape characters in the words (`keepQuotes`); extractBuilderFlags removes
    /// them, and (`flagsOnly`) stops at the first word that does not start with `--`, or after a `--` word,
    /// giving the rest of the line. A quoted empty word counts; an escape character at the very end is dropped.
    static func splitWords(_ text: String, escape: Character, keepQuotes: Bool, flagsOnly: Bool) -> (words: [String], rest: String) {
        let chars = Array(text)
        var words: [String] = []
        var word = ""
        var inWord = false
        var quote: Character? = nil
        var blankOK = false
        var pos = 0
        while pos < chars.count {
            var ch = chars[pos]
            if !inWord {
                if isSpace(ch) {
                    pos += 1
                    continue
                }
                if flagsOnly, ch != "-" || pos + 1 == chars.count || chars[pos + 1] != "-" {
                    return (words, String(chars[pos...]))
                }
                inWord = true
            }
            if let q = quote {
                if ch == q {
                    quote = nil
                    if keepQuotes { word.append(ch) }
                    pos += 1
                    continue
                }
                if ch == escape && q != "'" {
                    if pos + 1 == chars.count {
                        quote = nil
                        if keepQuotes { word.append(ch) }
                        pos += 1
                        continue
                    }
                    if keepQuotes { word.append(ch) }
                    pos += 1
                    ch = chars[pos]
                }
                word.append(ch)
                pos += 1
                continue
            }
            if isSpace(ch) {
                inWord = false
                if flagsOnly, word == "--" { return (words, String(chars[pos...]).trimmingBlanks()) }
                if blankOK || !word.isEmpty { words.append(word) }
                word = ""
                blankOK = false
                pos += 1
                continue
            }
            if ch == "'" || ch == "\"" {
                quote = ch
                blankOK = true
                if keepQuotes { word.append(ch) }
                pos += 1
                continue
            }
            if ch == escape {
                if pos + 1 == chars.count {
                    pos += 1
                    continue
                }
                if keepQuotes { word.append(ch) }
                pos += 1
                ch = chars[pos]
            }
            word.append(ch)
            pos += 1
        }
        if inWord, !(flagsOnly && word == "--"), blankOK || !word.isEmpty { words.append(word) }
        return (words, "")
    }

    /// Heredoc openers among the line's words: `^(\d*)<<(-?)([^<]*)$` with a name (quotes mark no expansion).
    static func heredocs(in line: String) -> [DockerfileHeredoc] {
        var docs: [DockerfileHeredoc] = []
        for word in words(line, escape: "\\") {
            var rest = Substring(word).drop { $0.isASCII && $0.isNumber }
            guard rest.hasPrefix("<<") else { continue }
            if word.prefix(while: { $0.isASCII && $0.isNumber }) != "" && word.prefix(while: { $0.isASCII && $0.isNumber }) != "0" {
                continue
            }
            rest = rest.dropFirst(2)
            let chomp = rest.hasPrefix("-")
            if chomp { rest = rest.dropFirst() }
            guard !rest.isEmpty, !rest.contains("<") else { continue }
            let name = unquote(String(rest), escape: "\\")
            guard !name.isEmpty else { continue }
            docs.append(DockerfileHeredoc(name: name, expand: name == String(rest), chomp: chomp, content: ""))
        }
        return docs
    }

    /// Removes shell quoting from one word: `'…'` literal, `"…"` with escapes of `"`, `$` and the escape
    /// character, the escape character outside quotes escaping the next character. `$` is kept.
    static func unquote(_ word: String, escape: Character) -> String {
        var out = ""
        var chars = Array(word)[...]
        while let ch = chars.popFirst() {
            switch ch {
            case "'":
                while let c = chars.popFirst(), c != "'" { out.append(c) }
            case "\"":
                while let c = chars.popFirst(), c != "\"" {
                    if c == escape, let next = chars.first, next == "\"" || next == "$" || next == escape {
                        out.append(next == "$" ? "\\$" : String(next))
                        chars.removeFirst()
                    } else {
                        out.append(c)
                    }
                }
            case escape:
                if let next = chars.popFirst() { out += next == "$" ? "\\$" : String(next) }
            default:
                out.append(ch)
            }
        }
        return out
    }

    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        var previous = Array(0...b.count)
        for i in 1...max(a.count, 1) where !a.isEmpty {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...max(b.count, 1) where !b.isEmpty {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return a.isEmpty ? b.count : previous[b.count]
    }
}

/// Shell-word helpers the mapping shares with the parser.
public enum DockerfileWords {
    /// BuildKit's parseWords.
    public static func split(_ text: String, escape: Character) -> [String] { ParseState.words(text, escape: escape) }
    /// Quotes removed; `\$` kept so that plan reads a literal dollar.
    public static func unquote(_ word: String, escape: Character) -> String { ParseState.unquote(word, escape: escape) }
}
