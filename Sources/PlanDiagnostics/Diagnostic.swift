/// One finding about a plan: an error or a warning, located where possible, with notes and a fix hint.
public struct Diagnostic: Hashable, Sendable {
    public enum Severity: String, Hashable, Sendable, Comparable {
        case error, warning, note

        private var rank: Int {
            switch self {
            case .error: 0
            case .warning: 1
            case .note: 2
            }
        }

        public static func < (lhs: Severity, rhs: Severity) -> Bool { lhs.rank < rhs.rank }
    }

    /// A secondary message, optionally pointing at another place ("first defined here").
    public struct Note: Hashable, Sendable {
        public var message: String
        public var location: SourceLocation?

        public init(_ message: String, at location: SourceLocation? = nil) {
            self.message = message
            self.location = location
        }
    }

    public var severity: Severity
    public var code: DiagnosticCode
    public var message: String
    public var location: SourceLocation?
    public var notes: [Note]
    /// How to fix it, in one or two sentences.
    public var help: String?

    public init(
        _ severity: Severity, _ code: DiagnosticCode, _ message: String, at location: SourceLocation?,
        notes: [Note] = [], help: String? = nil
    ) {
        self.severity = severity
        self.code = code
        self.message = message
        self.location = location
        self.notes = notes
        self.help = help
    }

    public static func error(
        _ code: DiagnosticCode, _ message: String, at location: SourceLocation?, notes: [Note] = [], help: String? = nil
    ) -> Diagnostic {
        Diagnostic(.error, code, message, at: location, notes: notes, help: help)
    }

    public static func warning(
        _ code: DiagnosticCode, _ message: String, at location: SourceLocation?, notes: [Note] = [], help: String? = nil
    ) -> Diagnostic {
        Diagnostic(.warning, code, message, at: location, notes: notes, help: help)
    }
}

/// The diagnostics of one run, in a stable order.
public struct DiagnosticList: Sendable {
    public private(set) var items: [Diagnostic] = []

    public init(_ items: [Diagnostic] = []) { self.items = items }

    public mutating func append(_ diagnostic: Diagnostic) { items.append(diagnostic) }
    public mutating func append(contentsOf other: [Diagnostic]) { items.append(contentsOf: other) }
    public mutating func append(contentsOf other: DiagnosticList) { items.append(contentsOf: other.items) }

    public var hasErrors: Bool { items.contains { $0.severity == .error } }
    public var errorCount: Int { items.count { $0.severity == .error } }
    public var warningCount: Int { items.count { $0.severity == .warning } }

    /// Turns every warning into an error (`--werror`).
    public mutating func promoteWarnings() {
        for index in items.indices where items[index].severity == .warning {
            items[index].severity = .error
        }
    }

    /// Drops warnings whose code the plan allows (`allow:`), by id or name.
    public mutating func removeWarnings(where isAllowed: (Diagnostic) -> Bool) {
        items.removeAll { $0.severity == .warning && isAllowed($0) }
    }

    /// Diagnostics ordered by file, line, column, then severity and code; unlocated ones first.
    /// Exact duplicates (the same finding reached twice) are kept once.
    public var sorted: [Diagnostic] {
        var seen = Set<Diagnostic>()
        let unique = items.filter { seen.insert($0).inserted }
        return unique.enumerated().sorted { lhs, rhs in
            let (l, r) = (lhs.element, rhs.element)
            switch (l.location, r.location) {
            case (nil, .some): return true
            case (.some, nil): return false
            case let (.some(a), .some(b)) where a != b: return a < b
            default:
                if l.severity != r.severity { return l.severity < r.severity }
                if l.code.id != r.code.id { return l.code.id < r.code.id }
                return lhs.offset < rhs.offset
            }
        }.map(\.element)
    }
}
