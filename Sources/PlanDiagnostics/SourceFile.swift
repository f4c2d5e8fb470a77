/// The text of one plan file, indexed by line for snippets.
public struct SourceFile: Sendable {
    public let path: String
    private let bytes: [UInt8]
    /// Byte offset where each line starts.
    private let lineStarts: [Int]

    public init(path: String, text: String) {
        self.path = path
        self.bytes = Array(text.utf8)
        var starts = [0]
        for (offset, byte) in bytes.enumerated() where byte == 0x0A { starts.append(offset + 1) }
        self.lineStarts = starts
    }

    public var lineCount: Int { lineStarts.count }

    /// The text of a 1-based line without its line terminator, or nil past the end.
    public func line(_ number: Int) -> Substring? {
        guard number >= 1, number <= lineStarts.count else { return nil }
        let start = lineStarts[number - 1]
        var end = number < lineStarts.count ? lineStarts[number] - 1 : bytes.count
        if end > start, bytes[end - 1] == 0x0D { end -= 1 }
        return Substring(String(decoding: bytes[start..<max(start, end)], as: UTF8.self))
    }
}

/// Every source file read while compiling a plan, by path, so diagnostics can show snippets.
public struct SourceMap: Sendable {
    private var files: [String: SourceFile] = [:]

    public init() {}

    public mutating func add(_ file: SourceFile) {
        files[file.path] = file
    }

    public subscript(path: String) -> SourceFile? { files[path] }
}
