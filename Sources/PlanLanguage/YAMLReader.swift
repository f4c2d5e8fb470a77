import CYaml
import Foundation
import PlanDiagnostics

/// Reads YAML text into a located `YAMLNode` tree with libyaml's event parser (through Yams).
///
/// The tree is built iteratively, so no input can exhaust the stack, and within fixed limits:
/// nesting depth, node count (aliases included, against "billion laughs" documents) and file size.
/// Every problem becomes a located diagnostic; the reader never traps.
public struct YAMLReader: Sendable {
    /// Deepest nesting accepted. Plans need about ten levels.
    public var maxDepth = 64
    /// Most nodes accepted, counting what aliases expand to.
    public var maxNodes = 2_000_000
    /// Largest file accepted, in bytes.
    public var maxBytes = 64 << 20

    /// A reader with the default limits.
    public init() {}

    /// The result of reading one file: the document's root (nil when reading failed) and what was found.
    public struct Result: Sendable {
        /// The document's root; nil when the text is not valid YAML or breaks a limit.
        public var root: YAMLNode?
        /// Every problem found, in the order met.
        public var diagnostics: [Diagnostic]
    }

    /// Reads one YAML document from `data`; `file` names it in locations.
    public func read(_ data: Data, file: String) -> Result {
        var bytes = [UInt8](data)
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes.removeFirst(3) }
        if bytes.count > maxBytes {
            return Result(root: nil, diagnostics: [
                .error(.documentTooComplex, "the plan is \(bytes.count) bytes; plan reads at most \(maxBytes) bytes",
                       at: .startOf(file), help: "split the plan with `include`, or generate fewer stages")
            ])
        }
        if let problem = Self.encodingProblem(bytes, file: file) {
            return Result(root: nil, diagnostics: [problem])
        }
        var builder = TreeBuilder(file: file, maxDepth: maxDepth, maxNodes: maxNodes, text: bytes)
        bytes.withUnsafeBufferPointer { buffer in builder.run(buffer) }
        return Result(root: builder.root, diagnostics: builder.diagnostics)
    }

    /// Finds bytes that are not UTF-8 or are control characters YAML forbids, and locates the first.
    static func encodingProblem(_ bytes: [UInt8], file: String) -> Diagnostic? {
        var line = 1
        var column = 1
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            var width = 1
            var bad: String? = nil
            switch byte {
            case 0x0A:
                line += 1
                column = 0
            case 0x09, 0x0D: break
            case 0x00..<0x20, 0x7F:
                bad = String(format: "control character U+%04X", Int(byte))
            case 0x20..<0x7F: break
            case 0xC2...0xDF: width = 2
            case 0xE0...0xEF: width = 3
            case 0xF0...0xF4: width = 4
            default: bad = String(format: "byte 0x%02X, which is not UTF-8", Int(byte))
            }
            if bad == nil, width > 1 {
                if index + width > bytes.count
                    || bytes[(index + 1)..<(index + width)].contains(where: { $0 & 0xC0 != 0x80 })
                    || String(bytes: bytes[index..<(index + width)], encoding: .utf8) == nil
                {
                    bad = String(format: "byte 0x%02X, which is not UTF-8", Int(byte))
                }
            }
            if let bad {
                return .error(
                    .invalidEncoding, "the plan is not UTF-8 text: \(bad)",
                    at: SourceLocation(file: file, line: line, column: column),
                    help: "a plan is a UTF-8 YAML file; check that the right file was given")
            }
            index += width
            column += 1
        }
        return nil
    }
}

/// Builds the tree from libyaml events with an explicit stack.
private struct TreeBuilder {
    let file: String
    let maxDepth: Int
    let maxNodes: Int
    let text: [UInt8]
    var root: YAMLNode?
    var diagnostics: [Diagnostic] = []

    /// An open collection. A class, so appending to the innermost one never copies what it holds.
    private final class Frame {
        let isMapping: Bool
        let location: SourceLocation
        let anchor: String?
        var items: [YAMLNode] = []
        var entries: [YAMLMapping.Entry] = []
        var pendingKey: YAMLScalar?
        var seen: [String: SourceLocation] = [:]

        init(isMapping: Bool, location: SourceLocation, anchor: String?) {
            self.isMapping = isMapping
            self.location = location
            self.anchor = anchor
        }
    }

    private var stack: [Frame] = []
    private var anchors: [String: (node: YAMLNode, count: Int)] = [:]
    private var nodeCount = 0
    private var documents = 0
    private var stopped = false

    init(file: String, maxDepth: Int, maxNodes: Int, text: [UInt8]) {
        self.file = file
        self.maxDepth = maxDepth
        self.maxNodes = maxNodes
        self.text = text
    }

    private func location(_ mark: yaml_mark_t, length: Int = 1) -> SourceLocation {
        SourceLocation(file: file, line: Int(mark.line) + 1, column: Int(mark.column) + 1, length: length)
    }

    private static func string(_ pointer: UnsafeMutablePointer<yaml_char_t>?) -> String? {
        guard let pointer else { return nil }
        return String(cString: pointer)
    }

    mutating func run(_ buffer: UnsafeBufferPointer<UInt8>) {
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else {
            diagnostics.append(.error(.yamlSyntax, "cannot start the YAML parser", at: .startOf(file)))
            return
        }
        defer { yaml_parser_delete(&parser) }
        yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING)
        // libyaml reads from a pointer; an empty buffer still needs a valid one.
        let empty: [UInt8] = [0]
        empty.withUnsafeBufferPointer { emptyBuffer in
            let base = buffer.count > 0 ? buffer.baseAddress : emptyBuffer.baseAddress
            yaml_parser_set_input_string(&parser, base, buffer.count)
            loop(&parser)
        }
        if !stopped, root == nil, diagnostics.isEmpty {
            diagnostics.append(.error(
                .notASingleDocument, "the plan is empty", at: .startOf(file),
                help: "a plan starts with `version: 1` and a `stages:` mapping; see docs/language.md"))
        }
    }

    private mutating func loop(_ parser: inout yaml_parser_t) {
        while !stopped {
            var event = yaml_event_t()
            guard yaml_parser_parse(&parser, &event) == 1 else {
                reportParserError(parser)
                return
            }
            let done = event.type == YAML_STREAM_END_EVENT
            handle(event)
            yaml_event_delete(&event)
            if done { return }
        }
    }

    private mutating func handle(_ event: yaml_event_t) {
        let start = location(event.start_mark)
        switch event.type {
        case YAML_DOCUMENT_START_EVENT:
            documents += 1
            if documents > 1 {
                fail(.error(.notASingleDocument, "the file holds more than one YAML document", at: start,
                            help: "a plan is one document; remove the `---` separator or split the file"))
            }
        case YAML_SCALAR_EVENT:
            let scalarData = event.data.scalar
            let value = scalarData.value.map {
                String(decoding: UnsafeBufferPointer(start: $0, count: scalarData.length), as: UTF8.self)
            } ?? ""
            let style: YAMLScalar.Style
            switch scalarData.style {
            case YAML_SINGLE_QUOTED_SCALAR_STYLE: style = .singleQuoted
            case YAML_DOUBLE_QUOTED_SCALAR_STYLE: style = .doubleQuoted
            case YAML_LITERAL_SCALAR_STYLE: style = .literal
            case YAML_FOLDED_SCALAR_STYLE: style = .folded
            default: style = .plain
            }
            let endMark = event.end_mark
            let sameLine = endMark.line == event.start_mark.line
            let rawWidth = sameLine ? Int(endMark.column) - Int(event.start_mark.column) : 0
            let textWidth = value.unicodeScalars.count
            let quoted = style == .singleQuoted || style == .doubleQuoted
            let verbatim = sameLine && (style == .plain || quoted) && rawWidth == textWidth + (quoted ? 2 : 0)
            let scalar = YAMLScalar(
                text: value, style: style, tag: Self.string(scalarData.tag),
                location: location(event.start_mark, length: max(1, rawWidth)), isVerbatim: verbatim)
            complete(.scalar(scalar), anchor: Self.string(scalarData.anchor), count: 1)
        case YAML_SEQUENCE_START_EVENT:
            guard enter(start) else { return }
            stack.append(Frame(isMapping: false, location: start, anchor: Self.string(event.data.sequence_start.anchor)))
        case YAML_MAPPING_START_EVENT:
            guard enter(start) else { return }
            stack.append(Frame(isMapping: true, location: start, anchor: Self.string(event.data.mapping_start.anchor)))
        case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
            guard let frame = stack.popLast() else { return }
            let node: YAMLNode = frame.isMapping
                ? .mapping(YAMLMapping(entries: frame.entries, location: frame.location))
                : .sequence(YAMLSequence(items: frame.items, location: frame.location))
            complete(node, anchor: frame.anchor, count: 0)
        case YAML_ALIAS_EVENT:
            let name = Self.string(event.data.alias.anchor) ?? ""
            guard let target = anchors[name] else {
                fail(.error(.yamlSyntax, "YAML alias `*\(name)` names no anchor defined before it", at: start,
                            help: "define `&\(name)` on a node above this line"))
                return
            }
            complete(target.node, anchor: nil, count: target.count)
        default:
            break
        }
    }

    /// Checks the depth limit before opening a collection.
    private mutating func enter(_ location: SourceLocation) -> Bool {
        if stack.count >= maxDepth {
            fail(.error(.documentTooComplex, "the document nests more than \(maxDepth) levels deep", at: location,
                        help: "a plan needs only a few levels of nesting; check for runaway brackets or indentation"))
            return false
        }
        return true
    }

    private mutating func fail(_ diagnostic: Diagnostic) {
        diagnostics.append(diagnostic)
        stopped = true
        root = nil
    }

    /// Attaches a finished node to its parent, or makes it the root.
    private mutating func complete(_ node: YAMLNode, anchor: String?, count: Int) {
        nodeCount += max(count, 1)
        if nodeCount > maxNodes {
            fail(.error(.documentTooComplex, "the document expands to more than \(maxNodes) YAML nodes",
                        at: node.location, help: "check for aliases that expand into each other"))
            return
        }
        if let anchor { anchors[anchor] = (node, nodeCountOf(node)) }
        guard let top = stack.last else {
            if root == nil { root = node }
            return
        }
        guard top.isMapping else {
            top.items.append(node)
            return
        }
        if let key = top.pendingKey {
            top.entries.append(YAMLMapping.Entry(key: key, value: node))
            top.pendingKey = nil
            return
        }
        guard case .scalar(let key) = node else {
            fail(.error(.yamlSyntax, "a mapping key must be a plain value, not \(node.kindDescription)",
                        at: node.location, help: "plan keys are names like `stages` or `run`"))
            return
        }
        if let first = top.seen[key.text] {
            diagnostics.append(.error(
                .duplicateKey, "key `\(key.text)` appears twice in this mapping", at: key.location,
                notes: [.init("first written here", at: first)],
                help: "YAML would silently keep only one of them; remove or rename one"))
        } else {
            top.seen[key.text] = key.location
        }
        top.pendingKey = key
    }

    private func nodeCountOf(_ node: YAMLNode) -> Int {
        if case .scalar = node { return 1 }
        return node.nodeCount
    }

    // MARK: libyaml errors

    private mutating func reportParserError(_ parser: yaml_parser_t) {
        let problem = parser.problem.map { String(cString: $0) } ?? "malformed YAML"
        var where_: SourceLocation
        if parser.error == YAML_READER_ERROR {
            where_ = locationOfOffset(Int(parser.problem_offset))
        } else {
            where_ = location(parser.problem_mark)
        }
        var notes: [Diagnostic.Note] = []
        if let context = parser.context.map({ String(cString: $0) }) {
            notes.append(.init(context, at: location(parser.context_mark)))
        }
        let lineText = lineText(where_.line)
        var help: String? = nil
        if let fix = Self.flowInterpolationFix(lineText) {
            help = "YAML reads `{` inside `[ ]` or `{ }` as the start of a mapping, so `${{ … }}` there must be "
                + "quoted: write \(fix)"
        } else if lineText.contains("\t") && problem.contains("cannot start any token") {
            help = "YAML does not allow tabs for indentation; indent with spaces"
        } else if problem.contains("mapping values are not allowed") {
            help = "a value that contains `: ` must be quoted, or the line is indented wrongly"
        } else if problem.contains("expected ',' or ']'") || problem.contains("expected ',' or '}'") {
            let bracket = problem.contains("']'") ? "[" : "{"
            help = "close the `\(bracket)` opened at \(location(parser.context_mark).line):\(location(parser.context_mark).column), "
                + "or quote an item that holds `{`, `[`, `:` or `#`"
        } else if problem.contains("did not find expected key") || problem.contains("expected <block end>") {
            help = "check the indentation of this line against the lines above it"
        }
        fail(.error(.yamlSyntax, "YAML syntax error: \(problem)", at: where_, notes: notes, help: help))
    }

    private func locationOfOffset(_ offset: Int) -> SourceLocation {
        var line = 1
        var column = 1
        for byte in text.prefix(offset) {
            if byte == 0x0A { line += 1; column = 1 } else if byte & 0xC0 != 0x80 { column += 1 }
        }
        return SourceLocation(file: file, line: line, column: column)
    }

    private func lineText(_ number: Int) -> String {
        var current = 1
        var start = 0
        for (index, byte) in text.enumerated() where byte == 0x0A {
            if current == number { return String(decoding: text[start..<index], as: UTF8.self) }
            current += 1
            start = index + 1
        }
        return current == number ? String(decoding: text[start...], as: UTF8.self) : ""
    }

    /// For a line with an unquoted `${{ … }}` inside `[ ]`, the line with each such item quoted.
    static func flowInterpolationFix(_ line: String) -> String? {
        guard let open = line.firstIndex(of: "["), line.range(of: "${{")?.lowerBound ?? line.endIndex > open
        else { return nil }
        guard let close = line.lastIndex(of: "]"), close > open else { return nil }
        let inner = line[line.index(after: open)..<close]
        let items = inner.split(separator: ",", omittingEmptySubsequences: false).map { raw -> String in
            let item = raw.trimmingCharacters(in: .whitespaces)
            if item.contains("${{"), !(item.hasPrefix("\"") || item.hasPrefix("'")) {
                return "\"" + item.replacingOccurrences(of: "\"", with: "\\\"") + "\""
            }
            return item
        }
        guard items.contains(where: { $0.contains("${{") }) else { return nil }
        let fixed = line[..<open].trimmingCharacters(in: .whitespaces) + " [" + items.joined(separator: ", ") + "]"
        return "`\(fixed.trimmingCharacters(in: .whitespaces))`"
    }
}
