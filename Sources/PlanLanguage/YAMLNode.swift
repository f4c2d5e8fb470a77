import PlanDiagnostics

/// A YAML scalar exactly as written, with where it was written.
public struct YAMLScalar: Sendable {
    /// How the scalar was written.
    public enum Style: Sendable {
        /// Unquoted, `'…'`, `"…"`, a `|` block or a `>` block.
        case plain, singleQuoted, doubleQuoted, literal, folded
    }

    /// The scalar's value, quotes and escapes resolved.
    public var text: String
    /// How it was written: decides how a plain value is typed.
    public var style: Style
    /// An explicit tag (`!!str`), if any.
    public var tag: String?
    /// Where the scalar is written, quotes included.
    public var location: SourceLocation
    /// True when each character of `text` sits in its own column on one line (no escapes, no folding),
    /// so a position inside the text maps to an exact column.
    public var isVerbatim: Bool

    /// A scalar as the reader found it.
    public init(text: String, style: Style, tag: String? = nil, location: SourceLocation, isVerbatim: Bool) {
        self.text = text
        self.style = style
        self.tag = tag
        self.location = location
        self.isVerbatim = isVerbatim
    }

    /// Plain scalars are typed by their spelling (YAML 1.2 core schema); anything quoted or tagged `!!str` is text.
    public var isPlain: Bool { style == .plain && (tag == nil || tag == "!") }

    /// Whether the scalar is YAML's null (`~`, `null`, empty, or tagged `!!null`).
    public var isNull: Bool {
        if tag == "tag:yaml.org,2002:null" { return true }
        return isPlain && ["", "~", "null", "Null", "NULL"].contains(text)
    }

    /// The boolean the scalar spells (`true`, `False`, …); nil for anything else or anything quoted.
    public var bool: Bool? {
        guard isPlain || tag == "tag:yaml.org,2002:bool" else { return nil }
        switch text {
        case "true", "True", "TRUE": return true
        case "false", "False", "FALSE": return false
        default: return nil
        }
    }

    /// The integer the scalar spells; nil for anything else or anything quoted.
    public var int: Int? {
        guard isPlain || tag == "tag:yaml.org,2002:int" else { return nil }
        return Int(text)
    }

    /// The location of the characters `offset ..< offset+length` of `text`; the whole scalar when
    /// the text does not map column for column.
    public func location(ofOffset offset: Int, length: Int) -> SourceLocation {
        guard isVerbatim else { return location }
        let quote = (style == .singleQuoted || style == .doubleQuoted) ? 1 : 0
        return location.advanced(by: quote + offset, length: length)
    }
}

/// A YAML sequence, in order.
public struct YAMLSequence: Sendable {
    /// The items, in order.
    public var items: [YAMLNode]
    /// Where the sequence is written.
    public var location: SourceLocation
}

/// A YAML mapping whose keys are scalars, in the order written.
public struct YAMLMapping: Sendable {
    /// One `key: value` pair.
    public struct Entry: Sendable {
        /// The key, located.
        public var key: YAMLScalar
        /// The value.
        public var value: YAMLNode
    }

    /// The pairs, in written order.
    public var entries: [Entry]
    /// Where the mapping is written.
    public var location: SourceLocation

    /// The value of the first entry whose key is `key`.
    public subscript(key: String) -> YAMLNode? {
        entries.first { $0.key.text == key }?.value
    }
}

/// A located YAML node: what the plan parser reads instead of bare values.
public enum YAMLNode: Sendable {
    /// A single value.
    case scalar(YAMLScalar)
    /// A list.
    case sequence(YAMLSequence)
    /// Key-value pairs.
    case mapping(YAMLMapping)

    /// Where the node is written.
    public var location: SourceLocation {
        switch self {
        case .scalar(let scalar): scalar.location
        case .sequence(let sequence): sequence.location
        case .mapping(let mapping): mapping.location
        }
    }

    /// How the node reads in a "found …" message.
    public var kindDescription: String {
        switch self {
        case .scalar(let scalar):
            if scalar.isNull { return "null" }
            if scalar.bool != nil { return "a boolean" }
            if scalar.isPlain, Double(scalar.text) != nil { return "a number" }
            return "a string"
        case .sequence: return "a list"
        case .mapping: return "a mapping"
        }
    }

    /// How many nodes the tree holds (aliases count as the nodes they stand for).
    var nodeCount: Int {
        switch self {
        case .scalar: 1
        case .sequence(let sequence): 1 + sequence.items.reduce(0) { $0 + $1.nodeCount }
        case .mapping(let mapping): 1 + mapping.entries.reduce(0) { $0 + 1 + $1.value.nodeCount }
        }
    }
}
