/// A position in a plan file: 1-based line and column (columns count Unicode scalars, as libyaml does).
public struct SourceLocation: Hashable, Sendable, Comparable, Codable, CustomStringConvertible {
    /// The file as the user named it (relative paths stay relative, so messages match what they typed).
    public var file: String
    public var line: Int
    public var column: Int
    /// How many columns the caret underline covers; 1 when unknown.
    public var length: Int
    /// For text that a template instance produced: which instance (an index into the compilation's
    /// instance table), so one template line yields a distinct, attributable location per instance.
    public var instance: Int?

    public init(file: String, line: Int, column: Int, length: Int = 1, instance: Int? = nil) {
        self.file = file
        self.line = line
        self.column = column
        self.length = max(1, length)
        self.instance = instance
    }

    /// The start of a file, for diagnostics about the file as a whole.
    public static func startOf(_ file: String) -> SourceLocation {
        SourceLocation(file: file, line: 1, column: 1)
    }

    /// The same location moved `offset` columns to the right, underlining `length` columns.
    public func advanced(by offset: Int, length: Int) -> SourceLocation {
        SourceLocation(file: file, line: line, column: column + offset, length: length, instance: instance)
    }

    public var description: String { "\(file):\(line):\(column)" }

    public static func < (lhs: SourceLocation, rhs: SourceLocation) -> Bool {
        (lhs.file, lhs.line, lhs.column, lhs.instance ?? -1) < (rhs.file, rhs.line, rhs.column, rhs.instance ?? -1)
    }
}

/// A value together with where it was written.
public struct Located<Value> {
    public var value: Value
    public var location: SourceLocation

    public init(_ value: Value, at location: SourceLocation) {
        self.value = value
        self.location = location
    }

    /// The same location with a transformed value.
    public func map<T>(_ transform: (Value) throws -> T) rethrows -> Located<T> {
        Located<T>(try transform(value), at: location)
    }
}

extension Located: Sendable where Value: Sendable {}
extension Located: Equatable where Value: Equatable {}
extension Located: Hashable where Value: Hashable {}
