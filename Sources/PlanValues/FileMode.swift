/// A permission mode as `COPY --chmod` takes it here: three or four octal digits, like `755` or `0644`.
public struct FileMode: Hashable, Sendable, CustomStringConvertible {
    /// The mode bits (at most `0o7777`).
    public let bits: UInt32

    /// Parses three or four octal digits; a four-digit mode may set setuid, setgid and sticky.
    public init(parsing text: String) throws(FileModeError) {
        let scalars = Array(text.unicodeScalars)
        guard (3...4).contains(scalars.count), scalars.allSatisfy({ $0 >= "0" && $0 <= "7" }) else {
            throw FileModeError(text: text)
        }
        bits = scalars.reduce(0) { $0 * 8 + ($1.value - 48) }
    }

    /// Four octal digits: `0755`.
    public var description: String {
        let octal = String(bits, radix: 8)
        return String(repeating: "0", count: max(0, 4 - octal.count)) + octal
    }
}

/// A text that is not an octal mode.
public struct FileModeError: Error, Hashable, Sendable, CustomStringConvertible {
    public let text: String
    /// What is wrong, without the text.
    public var problem: String { "a mode is three or four octal digits, like 755 or 0644" }
    public var description: String { "invalid mode \"\(text)\": \(problem)" }
}
