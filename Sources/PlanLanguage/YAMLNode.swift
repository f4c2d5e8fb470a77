import PlanDiagnostics

/// A YAML scalar exactly as written, with where it was written.
public struct YAMLScalar: Sendable {
    public enum Style: Sendable {
        case plain, singleQuoted, doubleQuoted, literal, folded
    }

    public var text: String
    public var style: Style
    /// An explicit tag (`!!str`), if any.
    public var tag: String?
    public var location: SourceLocation
    /// True when each character of `text` sits in its own column on one line (no escapes, no folding),
    /// so a position inside the text maps to an exact column.
    public var isVerbatim: Bool

    public init(text: String, style: Style, tag: String? = nil, location: SourceLocation, isVerbatim: Bool) {
        self.text = text
        self.style = style
        self.tag = tag
        self.location = location
        self.isVerbatim = isVerbatim
    }

    /// Plain scalars are typed by their spelling (YAML 1.2 core schema); anything quoted or tagged `!!str` is text.
    public var isPlain: Bool { style == .plain && (tag == nil || tag == "!") }

    public var isNull: Bool {
        if tag == "tag:yaml.org,2002:null" { return true }
        return isPlain && ["", "~", "null", "Null", "NULL"].contains(text)
    }

    public var bool: Bool? {
        guard isPlain || tag == "tag:yaml.org,2002:bool" else { return nil }
        switch text {
        case "true", "True", "TRUE": return true
        case "false", "False", "FALSE": return false
        default: return nil
        }
    }

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
    public var items: [YAMLNode]
    public var location: SourceLocation
}

/// A YAML mapping whose keys are scalars, in the order written.
public struct YAMLMapping: Sendable {
    public struct Entry: Sendable {
        public var key: YAMLScalar
        public var value: YAMLNode
    }

    public var entries: [Entry]
    public var location: SourceLocation

    public subscript(key: String) -> YAMLNode? {
        entries.first { $0.key.text == key }?.value
    }
}

/// A located YAML node: what the plan parser reads instead of bare values.
public enum YAMLNode: Sendable {
    case scalar(YAMLScalar)
    case sequence(YAMLSequence)
    case mapping(YAMLMapping)

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
