/// Docker's build-time variable expansion for ENV, WORKDIR, USER, COPY paths and the like:
/// `$NAME`, `${NAME}`, `${NAME:-word}` and `${NAME:+word}`; `\$` is a literal dollar sign.
/// Read by ``VariableSyntax`` in its builder dialect (as buildah reads it: `x$$y` is `x$` and `$y`).
public enum VariableExpansion {
    /// `text` with every variable reference replaced by its value in `values` (unknown names: empty).
    public static func expand(_ text: String, _ values: [String: String]) -> String {
        VariableSyntax.expand(text, values)
    }
}

/// A string with some references replaced by known values, and the way back from its offsets to the
/// text as written (for diagnostics about the substituted text).
public struct VariableSubstitution: Sendable {
    /// The text after substitution; references without a value are kept as written.
    public let text: String
    /// (offset in ``text``, offset in the written text, length in ``text``, length as written, substituted?)
    let segments: [(offset: Int, writtenOffset: Int, length: Int, writtenLength: Int, substituted: Bool)]

    /// Whether anything was replaced.
    public var substitutedAny: Bool { segments.contains { $0.substituted } }

    /// The span of the written text that produced `offset` in ``text`` (Unicode scalars): the same character
    /// in a literal part, the whole reference in a substituted one.
    public func writtenSpan(ofOffset offset: Int, length: Int) -> (offset: Int, length: Int) {
        for segment in segments where offset >= segment.offset && offset < segment.offset + max(segment.length, 1) {
            if segment.substituted { return (segment.writtenOffset, segment.writtenLength) }
            return (segment.writtenOffset + offset - segment.offset, min(length, segment.length - (offset - segment.offset)))
        }
        guard let last = segments.last else { return (0, length) }
        return (last.writtenOffset + last.writtenLength, length)
    }
}

extension VariableSyntax {
    /// `text` with each reference whose name `values` holds replaced by that value (whatever its modifier), for
    /// checks that need a concrete value, like an image reference with an argument default.
    public static func substitute(in text: String, _ values: [String: String], dialect: Dialect = .builder) -> VariableSubstitution {
        let scalars = Array(text.unicodeScalars)
        var out = String.UnicodeScalarView()
        var segments: [(offset: Int, writtenOffset: Int, length: Int, writtenLength: Int, substituted: Bool)] = []
        for token in tokens(in: text, dialect: dialect) {
            let start = out.count
            var substituted = false
            if case .reference(let reference) = token.kind, let value = values[reference.name] {
                out.append(contentsOf: value.unicodeScalars)
                substituted = true
            } else {
                out.append(contentsOf: scalars[token.offset..<(token.offset + token.length)])
            }
            segments.append((start, token.offset, out.count - start, token.length, substituted))
        }
        return VariableSubstitution(text: String(out), segments: segments)
    }
}
