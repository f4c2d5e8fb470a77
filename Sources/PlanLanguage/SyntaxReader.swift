import PlanDiagnostics

/// Typed, strict access to YAML nodes: every mismatch becomes a located diagnostic and a nil result,
/// so the parser can go on and report every problem of a file in one run.
struct SyntaxReader {
    var diagnostics: [Diagnostic] = []

    mutating func error(
        _ code: DiagnosticCode, _ message: String, at location: SourceLocation, notes: [Diagnostic.Note] = [],
        help: String? = nil
    ) {
        diagnostics.append(.error(code, message, at: location, notes: notes, help: help))
    }

    mutating func wrongType(_ node: YAMLNode, expected: String, what: String, help: String? = nil) {
        error(.wrongType, "\(what) must be \(expected), found \(node.kindDescription)", at: node.location,
              help: help ?? Self.wrongTypeHelp(node, expected: expected))
    }

    /// A fix for a value of the wrong type, from what was found and what was expected.
    static func wrongTypeHelp(_ node: YAMLNode, expected: String) -> String {
        switch node {
        case .scalar(let scalar) where scalar.isNull:
            return "give a value after the `:`, or remove the key"
        case .mapping:
            return expected.hasPrefix("a string")
                ? "a `: ` inside the value makes it a mapping; quote the whole value (`\"a: b\"`) if it is text"
                : "write \(expected) here, not `key: value` pairs"
        case .sequence:
            return expected.contains("list")
                ? "write \(expected) here"
                : "write a single value here, not a list (`- …` or `[…]`)"
        case .scalar:
            if expected.contains("whole number") { return "write digits only, like `3`, without quotes" }
            if expected.contains("`true`") { return "write `true` or `false`, without quotes" }
            if expected.contains("mapping") { return "write `key: value` pairs, one per line, indented under the key" }
            if expected.contains("list") { return "write the items as a list: one `- item` per line, or `[a, b]`" }
            return "write \(expected) here"
        }
    }

    /// Reports keys outside `allowed` (with a did-you-mean), and returns the mapping's entries by key.
    mutating func checkKeys(
        _ mapping: YAMLMapping, allowed: [String], in what: String, hints: [String: String] = [:]
    ) {
        for entry in mapping.entries where !allowed.contains(entry.key.text) {
            let key = entry.key.text
            var help = hints[key] ?? Suggestion.didYouMean(key, in: allowed)
            if help == nil { help = "valid keys here: " + allowed.joined(separator: ", ") }
            error(.unknownKey, "unknown key `\(key)` in \(what)", at: entry.key.location, help: help)
        }
    }

    mutating func mapping(_ node: YAMLNode, what: String, help: String? = nil) -> YAMLMapping? {
        if case .mapping(let mapping) = node { return mapping }
        wrongType(node, expected: "a mapping", what: what, help: help)
        return nil
    }

    /// A scalar as text. Numbers and booleans are accepted as their spelling; null is not.
    mutating func string(_ node: YAMLNode, what: String) -> Located<String>? {
        guard case .scalar(let scalar) = node, !scalar.isNull else {
            wrongType(node, expected: "a string", what: what)
            return nil
        }
        return Located(scalar.text, at: scalar.location)
    }

    /// The scalar itself, for strings whose inner positions matter (variables).
    mutating func scalar(_ node: YAMLNode, what: String) -> YAMLScalar? {
        guard case .scalar(let scalar) = node, !scalar.isNull else {
            wrongType(node, expected: "a string", what: what)
            return nil
        }
        return scalar
    }

    mutating func int(_ node: YAMLNode, what: String) -> Located<Int>? {
        guard case .scalar(let scalar) = node, let value = scalar.int else {
            wrongType(node, expected: "a whole number", what: what)
            return nil
        }
        return Located(value, at: scalar.location)
    }

    mutating func bool(_ node: YAMLNode, what: String) -> Located<Bool>? {
        guard case .scalar(let scalar) = node, let value = scalar.bool else {
            wrongType(node, expected: "`true` or `false`", what: what)
            return nil
        }
        return Located(value, at: scalar.location)
    }

    /// A list of strings; a single string is read as a list of one.
    mutating func stringList(_ node: YAMLNode, what: String, allowEmpty: Bool = true) -> [Located<String>]? {
        switch node {
        case .scalar(let scalar) where !scalar.isNull:
            return [Located(scalar.text, at: scalar.location)]
        case .sequence(let sequence):
            if !allowEmpty, sequence.items.isEmpty {
                error(.wrongType, "\(what) must not be empty", at: sequence.location)
                return nil
            }
            var result: [Located<String>] = []
            for item in sequence.items {
                if let value = string(item, what: "each item of \(what)") { result.append(value) }
            }
            return result
        default:
            wrongType(node, expected: "a string or a list of strings", what: what)
            return nil
        }
    }

    /// A list that must be a YAML sequence (exec-form commands, shells).
    mutating func strictStringList(_ node: YAMLNode, what: String) -> Located<[Located<String>]>? {
        guard case .sequence(let sequence) = node else {
            wrongType(node, expected: "a list of strings", what: what)
            return nil
        }
        if sequence.items.isEmpty {
            error(.wrongType, "\(what) must not be empty", at: sequence.location)
            return nil
        }
        let items = sequence.items.compactMap { string($0, what: "each item of \(what)") }
        return Located(items, at: sequence.location)
    }

    /// A mapping of names to strings (`env`, `labels`, `with`).
    mutating func stringMap(_ node: YAMLNode, what: String) -> [KeyValueSyntax]? {
        guard let mapping = mapping(node, what: what) else { return nil }
        var result: [KeyValueSyntax] = []
        for entry in mapping.entries {
            let key = Located(entry.key.text, at: entry.key.location)
            if let value = string(entry.value, what: "`\(entry.key.text)` in \(what)") {
                result.append(KeyValueSyntax(key: key, value: value))
            }
        }
        return result
    }

    /// A list of items of any shape, or a single item read as a list of one.
    func items(_ node: YAMLNode) -> [YAMLNode] {
        if case .sequence(let sequence) = node { return sequence.items }
        return [node]
    }
}
